"""Unit tests of local_runtime's template parsing, intrinsic resolver and model (no sockets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_runtime.model import AppModel, Endpoints
from local_runtime.template import Resolver, Template, TemplateError, classify, load_template

FN_ARN = {"Fn::GetAtt": ["Fn", "Arn"]}


def _resolver(body: dict, refs: dict | None = None) -> Resolver:
    t = Template(body=body, stack_name="Stack")
    refs = refs or {}
    return Resolver(t, lambda lid: refs.get(lid, f"ref-{lid}"), lambda lid, attr: f"{lid}.{attr}")


BODY = {
    "Parameters": {
        "Env": {"Type": "String", "Default": "dev"},
        "Lst": {"Type": "CommaDelimitedList", "Default": "a,b"},
    },
    "Mappings": {"M": {"dev": {"Size": 3}}},
    "Conditions": {
        "IsDev": {"Fn::Equals": [{"Ref": "Env"}, "dev"]},
        "IsProd": {"Fn::Not": [{"Condition": "IsDev"}]},
        "Both": {"Fn::And": [{"Condition": "IsDev"}, {"Fn::Or": [{"Condition": "IsProd"}, True]}]},
    },
    "Resources": {"Table": {"Type": "AWS::DynamoDB::Table"}, "Fn": {"Type": "AWS::Lambda::Function"}},
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ({"Ref": "AWS::Region"}, "us-east-1"),
        ({"Ref": "AWS::AccountId"}, "000000000000"),
        ({"Ref": "AWS::Partition"}, "aws"),
        ({"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
        ({"Ref": "AWS::StackName"}, "Stack"),
        ({"Ref": "Env"}, "dev"),
        ({"Ref": "Lst"}, ["a", "b"]),
        ({"Ref": "Table"}, "ref-Table"),
        ({"Fn::GetAtt": ["Table", "StreamArn"]}, "Table.StreamArn"),
        ({"Fn::GetAtt": "Table.Arn"}, "Table.Arn"),
        ({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":x"]]}, "arn:aws:x"),
        ({"Fn::Join": [",", {"Ref": "Lst"}]}, "a,b"),
        (
            {"Fn::Sub": "${AWS::Region}-${Table}-${Table.Arn}-${!Literal}"},
            "us-east-1-ref-Table-Table.Arn-${Literal}",
        ),
        ({"Fn::Sub": ["${A}/${Env}", {"A": {"Ref": "Table"}}]}, "ref-Table/dev"),
        ({"Fn::Select": [1, {"Fn::Split": ["/", "a/b/c"]}]}, "b"),
        ({"Fn::If": ["IsDev", "yes", "no"]}, "yes"),
        ({"Fn::If": ["IsProd", "yes", "no"]}, "no"),
        ({"Fn::If": ["Both", 1, 2]}, 1),
        ({"Fn::FindInMap": ["M", {"Ref": "Env"}, "Size"]}, 3),
        ({"Fn::Base64": "hi"}, "aGk="),
        ({"a": {"Ref": "AWS::NoValue"}, "b": [1, {"Ref": "AWS::NoValue"}, 2]}, {"b": [1, 2]}),
        ({"Fn::If": ["IsProd", "x", {"Ref": "AWS::NoValue"}]}, None),
    ],
)
def test_resolver(expr: object, expected: object) -> None:
    assert _resolver(BODY).resolve(expr) == expected


@pytest.mark.parametrize(
    "expr",
    [
        {"Ref": "Nope"},
        {"Fn::GetAtt": ["Nope", "Arn"]},
        {"Fn::ImportValue": "X"},
        {"Fn::Select": [5, ["a"]]},
        {"Fn::If": ["NoSuchCondition", 1, 2]},
        {"Fn::Transmogrify": 1},
    ],
)
def test_resolver_errors(expr: object) -> None:
    with pytest.raises(TemplateError):
        _resolver(BODY).resolve(expr)


def _stack() -> dict:
    fn_uri = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":apigateway:",
                {"Ref": "AWS::Region"},
                ":lambda:path/2015-03-31/functions/",
                FN_ARN,
                "/invocations",
            ],
        ]
    }
    return {
        "Resources": {
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "KeySchema": [
                        {"AttributeName": "pk", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"},
                    ],
                    "AttributeDefinitions": [
                        {"AttributeName": "pk", "AttributeType": "S"},
                        {"AttributeName": "sk", "AttributeType": "N"},
                        {"AttributeName": "g", "AttributeType": "S"},
                    ],
                    "GlobalSecondaryIndexes": [
                        {
                            "IndexName": "byG",
                            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                            "Projection": {"ProjectionType": "KEYS_ONLY"},
                        }
                    ],
                    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                    "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
                },
            },
            "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "VisibilityTimeout": 30,
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]},
                        "maxReceiveCount": 3,
                    },
                },
            },
            "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {}},
            "Client": {"Type": "AWS::Cognito::UserPoolClient", "Properties": {"UserPoolId": {"Ref": "Pool"}}},
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Metadata": {"aws:asset:path": "asset.abc"},
                "Properties": {
                    "Handler": "handlers.x.handler",
                    "Runtime": "python3.14",
                    "Timeout": 7,
                    "MemorySize": 256,
                    "Layers": [
                        "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-x86_64:27"
                    ],
                    "Environment": {
                        "Variables": {
                            "TABLE": {"Ref": "Table"},
                            "QUEUE": {"Ref": "Queue"},
                            "CALLBACK": {
                                "Fn::Join": [
                                    "",
                                    [
                                        "https://",
                                        {"Ref": "Ws"},
                                        ".execute-api.",
                                        {"Ref": "AWS::Region"},
                                        ".",
                                        {"Ref": "AWS::URLSuffix"},
                                        "/",
                                        {"Ref": "WsStage"},
                                    ],
                                ]
                            },
                            "ISSUER": {"Fn::GetAtt": ["Pool", "ProviderURL"]},
                            "ISSUER2": {
                                "Fn::Join": [
                                    "",
                                    [
                                        "https://cognito-idp.",
                                        {"Ref": "AWS::Region"},
                                        ".amazonaws.com/",
                                        {"Ref": "Pool"},
                                    ],
                                ]
                            },
                            "AUD": {"Ref": "Client"},
                            "HTTP": {"Fn::GetAtt": ["Http", "ApiEndpoint"]},
                            "WSS": {"Fn::GetAtt": ["Ws", "ApiEndpoint"]},
                        }
                    },
                },
            },
            "Ws": {
                "Type": "AWS::ApiGatewayV2::Api",
                "Properties": {
                    "Name": "ws",
                    "ProtocolType": "WEBSOCKET",
                    "RouteSelectionExpression": "$request.body.action",
                },
            },
            "WsStage": {
                "Type": "AWS::ApiGatewayV2::Stage",
                "Properties": {"ApiId": {"Ref": "Ws"}, "StageName": "dev"},
            },
            "WsInteg": {
                "Type": "AWS::ApiGatewayV2::Integration",
                "Properties": {
                    "ApiId": {"Ref": "Ws"},
                    "IntegrationType": "AWS_PROXY",
                    "IntegrationUri": fn_uri,
                },
            },
            "WsAuth": {
                "Type": "AWS::ApiGatewayV2::Authorizer",
                "Properties": {
                    "ApiId": {"Ref": "Ws"},
                    "AuthorizerType": "REQUEST",
                    "AuthorizerUri": fn_uri,
                    "IdentitySource": ["route.request.querystring.token"],
                    "Name": "a",
                },
            },
            "WsConnect": {
                "Type": "AWS::ApiGatewayV2::Route",
                "Properties": {
                    "ApiId": {"Ref": "Ws"},
                    "RouteKey": "$connect",
                    "AuthorizationType": "CUSTOM",
                    "AuthorizerId": {"Ref": "WsAuth"},
                    "Target": {"Fn::Join": ["", ["integrations/", {"Ref": "WsInteg"}]]},
                },
            },
            "Http": {
                "Type": "AWS::ApiGatewayV2::Api",
                "Properties": {
                    "Name": "http",
                    "ProtocolType": "HTTP",
                    "CorsConfiguration": {"AllowOrigins": ["http://x"]},
                },
            },
            "HttpStage": {
                "Type": "AWS::ApiGatewayV2::Stage",
                "Properties": {"ApiId": {"Ref": "Http"}, "StageName": "$default"},
            },
            "HttpInteg": {
                "Type": "AWS::ApiGatewayV2::Integration",
                "Properties": {
                    "ApiId": {"Ref": "Http"},
                    "IntegrationType": "AWS_PROXY",
                    "IntegrationUri": FN_ARN,
                    "PayloadFormatVersion": "2.0",
                },
            },
            "Jwt": {
                "Type": "AWS::ApiGatewayV2::Authorizer",
                "Properties": {
                    "ApiId": {"Ref": "Http"},
                    "AuthorizerType": "JWT",
                    "IdentitySource": ["$request.header.Authorization"],
                    "JwtConfiguration": {
                        "Audience": [{"Ref": "Client"}],
                        "Issuer": {"Fn::GetAtt": ["Pool", "ProviderURL"]},
                    },
                    "Name": "j",
                },
            },
            "Post": {
                "Type": "AWS::ApiGatewayV2::Route",
                "Properties": {
                    "ApiId": {"Ref": "Http"},
                    "RouteKey": "POST /p/{id}",
                    "AuthorizationType": "JWT",
                    "AuthorizerId": {"Ref": "Jwt"},
                    "Target": {"Fn::Join": ["", ["integrations/", {"Ref": "HttpInteg"}]]},
                },
            },
            "Esm": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "FunctionName": {"Ref": "Fn"},
                    "EventSourceArn": {"Fn::GetAtt": ["Table", "StreamArn"]},
                    "BatchSize": 10,
                    "BisectBatchOnFunctionError": True,
                    "MaximumRetryAttempts": 2,
                    "MaximumRecordAgeInSeconds": 60,
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Dlq", "Arn"]}}},
                    "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]},
                },
            },
            "SqsEsm": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "FunctionName": {"Ref": "Fn"},
                    "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]},
                    "BatchSize": 1,
                },
            },
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
        }
    }


@pytest.fixture
def model(tmp_path: Path) -> AppModel:
    (tmp_path / "Stack.template.json").write_text(json.dumps(_stack()))
    (tmp_path / "asset.abc").mkdir()
    t = load_template(tmp_path, "Stack")
    m = AppModel(
        t, Endpoints(ws_port=4001, api_port=4002, frontend_port=4000, moto_url="http://127.0.0.1:5555")
    )
    m.names.stream_arns["Table"] = "arn:aws:dynamodb:us-east-1:000000000000:table/Stack-Table/stream/2026"
    m.build()
    return m


def test_storage_model(model: AppModel) -> None:
    t = model.tables["Table"]
    assert t.name == "Stack-Table" and t.stream_view_type == "NEW_AND_OLD_IMAGES" and t.ttl_attribute == "ttl"
    assert t.gsis[0]["IndexName"] == "byG"
    q = model.queues["Queue"]
    assert json.loads(q.attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:Stack-Dlq",
        "maxReceiveCount": 3,
    }


def test_function_environment_is_localized(model: AppModel, tmp_path: Path) -> None:
    f = model.functions["Fn"]
    assert f.code_dir == tmp_path / "asset.abc" and f.timeout == 7 and f.memory == 256
    env = f.environment
    pool_id = model.user_pools["Pool"]
    assert env["TABLE"] == "Stack-Table"
    assert env["QUEUE"] == "http://127.0.0.1:5555/000000000000/Stack-Queue"
    assert env["CALLBACK"] == "http://127.0.0.1:4001/dev"
    assert env["ISSUER"] == env["ISSUER2"] == f"http://127.0.0.1:4002/cognito/{pool_id}"
    assert env["AUD"] == model.user_pool_clients["Client"]
    assert env["HTTP"] == "http://127.0.0.1:4002"
    assert env["WSS"] == "ws://127.0.0.1:4001"
    assert "powertools" in f.layer_notes[0]


def test_apis_and_routes(model: AppModel) -> None:
    ws = next(a for a in model.apis.values() if a.protocol == "WEBSOCKET")
    assert ws.stages == ["dev"] and ws.route_selection == "$request.body.action"
    connect = ws.routes["$connect"]
    assert connect.function == "Fn" and connect.authorization_type == "CUSTOM"
    assert connect.authorizer and connect.authorizer.type == "REQUEST" and connect.authorizer.function == "Fn"
    assert connect.authorizer.identity_source == ["route.request.querystring.token"]
    http = next(a for a in model.apis.values() if a.protocol == "HTTP")
    post = http.routes["POST /p/{id}"]
    assert post.authorizer and post.authorizer.type == "JWT"
    assert post.authorizer.issuer == model.names.issuer(model.user_pools["Pool"])
    assert post.authorizer.audience == [model.user_pool_clients["Client"]]
    assert http.cors == {"AllowOrigins": ["http://x"]}


def test_event_sources(model: AppModel) -> None:
    stream = next(e for e in model.event_sources if e.source_kind == "dynamodb")
    assert (stream.batch_size, stream.bisect_on_error, stream.max_retry_attempts, stream.max_record_age) == (
        10,
        True,
        2,
        60,
    )
    assert stream.report_batch_item_failures and stream.filters == [{"eventName": ["INSERT"]}]
    assert stream.on_failure_arn == "arn:aws:sqs:us-east-1:000000000000:Stack-Dlq"
    assert model.queue_for_arn(stream.on_failure_arn) == "Dlq"
    sqs = next(e for e in model.event_sources if e.source_kind == "sqs")
    assert sqs.source_logical_id == "Queue" and sqs.batch_size == 1
    assert model.used_functions() == {"Fn"}


def test_classify_lists_unsupported_types(model: AppModel) -> None:
    emulated, no_effect, unsupported = classify(model.t)
    assert unsupported == {"AWS::S3::Bucket": 1}
    assert no_effect == {"AWS::IAM::Role": 1}
    assert emulated["AWS::ApiGatewayV2::Route"] == 2


def test_names_are_stable_across_runs(tmp_path: Path) -> None:
    (tmp_path / "Stack.template.json").write_text(json.dumps(_stack()))
    t = load_template(tmp_path, "Stack")
    a = AppModel(t, Endpoints(ws_port=1, api_port=2)).names
    b = AppModel(t, Endpoints(ws_port=3, api_port=4)).names
    assert a.user_pool_id("Pool") == b.user_pool_id("Pool") and a.api_id("Ws") == b.api_id("Ws")
    assert a.table_name("Table") == b.table_name("Table")


def test_stacks_of_a_cloud_assembly_with_stages(tmp_path: Path) -> None:
    """Stacks inside cdk.Stages live in nested assemblies (assembly-<stage>/) whose asset manifests
    point at ../asset.*; the runtime finds a stage's stack by its CloudFormation name."""
    from local_runtime.template import find_stack, stack_artifact, stack_artifacts

    (tmp_path / "asset.abc").mkdir()
    for stage in ("dev", "prod"):
        nested = tmp_path / f"assembly-{stage}"
        nested.mkdir()
        artifact = f"{stage}Stack1234ABCD"
        (nested / f"{artifact}.template.json").write_text(json.dumps({"Resources": {}}))
        (nested / f"{artifact}.assets.json").write_text(
            json.dumps({"files": {"abc": {"source": {"path": "../asset.abc", "packaging": "zip"}}}})
        )
        (nested / "manifest.json").write_text(
            json.dumps(
                {
                    "artifacts": {
                        f"{artifact}.assets": {
                            "type": "cdk:asset-manifest",
                            "properties": {"file": f"{artifact}.assets.json"},
                        },
                        artifact: {
                            "type": "aws:cloudformation:stack",
                            "properties": {
                                "templateFile": f"{artifact}.template.json",
                                "stackName": f"App-{stage}",
                            },
                            "dependencies": [f"{artifact}.assets"],
                        },
                    }
                }
            )
        )
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    f"assembly-{s}": {
                        "type": "cdk:cloud-assembly",
                        "properties": {"directoryName": f"assembly-{s}"},
                    }
                    for s in ("dev", "prod")
                }
                | {"Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}}}
            }
        )
    )
    assert [a.stack_name for a in stack_artifacts(tmp_path)] == ["App-dev", "App-prod"]
    assert find_stack(tmp_path, "prod") == "App-prod"
    dev_template = stack_artifact(tmp_path, "App-dev").template
    assert dev_template == tmp_path / "assembly-dev" / "devStack1234ABCD.template.json"
    template = load_template(tmp_path, "App-dev")
    assert template.stack_name == "App-dev"
    assert template.assets["abc"].resolve() == (tmp_path / "asset.abc").resolve()
    with pytest.raises(FileNotFoundError, match="no stack for stage 'qa'.*App-dev, App-prod"):
        find_stack(tmp_path, "qa")
