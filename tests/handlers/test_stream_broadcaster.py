"""Stream broadcaster: INSERT / MODIFY / REMOVE -> messages to the post's subscribers only."""

from __future__ import annotations

import json
import uuid

from events import comment_item, sqs_event, stream_event, stream_record
from handler_helpers import seed_subscribers
from handlers import fanout_worker, stream_broadcaster


def _only_message(sink, connection_id):
    (message,) = sink.messages_for(connection_id)
    return message


def test_insert_becomes_comment_created_for_subscribers_only(connections_sink):
    seed_subscribers("post-1", ["s1", "s2"])
    seed_subscribers("post-2", ["other"])
    item = comment_item("post-1", 1)
    response = stream_broadcaster.handler(stream_event(stream_record("INSERT", new=item)), None)

    assert response == {"batchItemFailures": []}
    assert sorted(connections_sink.recipients()) == ["s1", "s2"]
    message = _only_message(connections_sink, "s1")
    assert message["type"] == "comment.created"
    assert message["data"] == {"postId": "post-1", "comment": {k: item[k] for k in item}}
    assert message["timestamp"].endswith("Z")


def test_modify_becomes_comment_updated_with_updated_at(connections_sink):
    seed_subscribers("post-1", ["s1"])
    old = comment_item("post-1", 2)
    new = {**old, "content": "edited", "updatedAt": "2026-01-01T00:05:00.000Z"}
    stream_broadcaster.handler(stream_event(stream_record("MODIFY", new=new, old=old)), None)
    message = _only_message(connections_sink, "s1")
    assert message["type"] == "comment.updated"
    assert message["data"]["comment"]["content"] == "edited"
    assert message["data"]["comment"]["updatedAt"] == "2026-01-01T00:05:00.000Z"


def test_remove_becomes_comment_deleted(connections_sink):
    seed_subscribers("post-1", ["s1"])
    old = comment_item("post-1", 3)
    stream_broadcaster.handler(stream_event(stream_record("REMOVE", old=old)), None)
    assert _only_message(connections_sink, "s1")["data"] == {"postId": "post-1", "commentId": old["id"]}
    assert _only_message(connections_sink, "s1")["type"] == "comment.deleted"


def test_ttl_removals_are_skipped(connections_sink):
    seed_subscribers("post-1", ["s1"])
    record = stream_record("REMOVE", old=comment_item("post-1", 3), ttl=True)
    assert stream_broadcaster.handler(stream_event(record), None) == {"batchItemFailures": []}
    assert connections_sink.posts == []


def test_counter_item_records_are_skipped(connections_sink):
    seed_subscribers("post-1", ["s1"])
    counter_new = {"postId": "post-1", "seq": 0, "lastSeq": 5}
    counter_old = {"postId": "post-1", "seq": 0, "lastSeq": 4}
    records = [
        stream_record("INSERT", new={"postId": "post-1", "seq": 0, "lastSeq": 1}),
        stream_record("MODIFY", new=counter_new, old=counter_old),
    ]
    assert stream_broadcaster.handler(stream_event(*records), None) == {"batchItemFailures": []}
    assert connections_sink.posts == []


def test_post_without_subscribers_sends_nothing(connections_sink):
    stream_broadcaster.handler(stream_event(stream_record("INSERT", new=comment_item("lonely", 1))), None)
    assert connections_sink.posts == []


def test_gone_subscriber_is_cleaned_up_during_broadcast(tables, connections_sink):
    seed_subscribers("post-1", ["alive", "vanished"])
    connections_sink.gone.add("vanished")
    response = stream_broadcaster.handler(stream_event(stream_record("INSERT", new=comment_item())), None)
    assert response == {"batchItemFailures": []}
    assert {item["connectionId"]["S"] for item in tables.connection_items()} == {"alive"}


def test_only_the_record_with_transient_failures_is_reported(connections_sink, monkeypatch):
    from realtime_comments.delivery import retry

    monkeypatch.setattr(retry.RetryPolicy, "delay", lambda self, attempt: 0.001)
    seed_subscribers("post-ok", ["a"])
    seed_subscribers("post-bad", ["stuck"])
    connections_sink.throttle("stuck", 1000)
    good = stream_record("INSERT", new=comment_item("post-ok", 1), sequence_number="100")
    bad = stream_record("INSERT", new=comment_item("post-bad", 1), sequence_number="200")
    later = stream_record("INSERT", new=comment_item("post-ok", 2), sequence_number="300")

    response = stream_broadcaster.handler(stream_event(good, bad, later), None)

    # The failed record and everything after it are retried by Lambda: reported, not processed now.
    assert response == {"batchItemFailures": [{"itemIdentifier": "200"}, {"itemIdentifier": "300"}]}
    assert [m["data"]["comment"]["seq"] for m in connections_sink.messages_for("a")] == [1]


def test_every_record_failing_raises_so_the_whole_batch_is_retried(connections_sink, monkeypatch):
    from realtime_comments.delivery import retry

    monkeypatch.setattr(retry.RetryPolicy, "delay", lambda self, attempt: 0.001)
    seed_subscribers("post-bad", ["stuck"])
    connections_sink.throttle("stuck", 1000)
    record = stream_record("INSERT", new=comment_item("post-bad", 1), sequence_number="1")
    try:
        stream_broadcaster.handler(stream_event(record), None)
    except stream_broadcaster.RecordFailed as exc:  # a function error: the mapping bisects the batch
        assert "record 1 failed" in str(exc)
    else:
        raise AssertionError("expected the batch to fail")


def test_malformed_record_is_skipped_not_crashing(connections_sink):
    records = [
        {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "1"}},
        stream_record("INSERT", new={"postId": "post-1", "seq": 5}),  # no id: not a comment
    ]
    assert stream_broadcaster.handler(stream_event(*records), None) == {"batchItemFailures": []}


# --- fan-out beyond one invocation --------------------------------------------------------------
def test_large_audience_is_enqueued_in_batches(connections_sink, sqs_client, configure):
    queue_url = sqs_client.create_queue(QueueName=f"fanout-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    configure(FANOUT_QUEUE_URL=queue_url, FANOUT_INLINE_LIMIT="3", FANOUT_BATCH_SIZE="2")
    subscribers = [f"sub-{i}" for i in range(5)]
    seed_subscribers("post-1", subscribers)

    response = stream_broadcaster.handler(stream_event(stream_record("INSERT", new=comment_item())), None)

    assert response == {"batchItemFailures": []}
    assert connections_sink.posts == []  # nothing sent inline
    bodies = []
    while True:
        received = sqs_client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not received:
            break
        bodies.extend(json.loads(m["Body"]) for m in received)
    assert sorted(len(body["connectionIds"]) for body in bodies) == [1, 2, 2]
    assert sorted(i for body in bodies for i in body["connectionIds"]) == subscribers
    envelope = json.loads(bodies[0]["message"])
    assert envelope["type"] == "comment.created" and envelope["data"]["comment"]["seq"] == 1

    # The worker delivers each batch; together they reach every subscriber exactly once.
    worker_response = fanout_worker.handler(sqs_event(*(json.dumps(b) for b in bodies)), None)
    assert worker_response == {"batchItemFailures": []}
    assert sorted(connections_sink.recipients()) == subscribers


def test_audience_at_the_limit_stays_inline(connections_sink, sqs_client, configure):
    queue_url = sqs_client.create_queue(QueueName=f"fanout-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    configure(FANOUT_QUEUE_URL=queue_url, FANOUT_INLINE_LIMIT="3")
    seed_subscribers("post-1", ["a", "b", "c"])
    stream_broadcaster.handler(stream_event(stream_record("INSERT", new=comment_item())), None)
    assert sorted(connections_sink.recipients()) == ["a", "b", "c"]
    assert "Messages" not in sqs_client.receive_message(QueueUrl=queue_url)


def test_fanout_worker_reports_bad_and_stuck_messages(connections_sink, monkeypatch):
    from realtime_comments.delivery import retry

    monkeypatch.setattr(retry.RetryPolicy, "delay", lambda self, attempt: 0.001)
    connections_sink.throttle("stuck", 1000)
    event = sqs_event(
        json.dumps({"message": '{"type":"test"}', "connectionIds": ["a", "b"]}),
        "not json",
        json.dumps({"message": '{"type":"test"}', "connectionIds": ["stuck"]}),
    )
    response = fanout_worker.handler(event, None)
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    assert failed == {event["Records"][1]["messageId"], event["Records"][2]["messageId"]}
    assert sorted(connections_sink.recipients()) == ["a", "b"]


def test_a_batch_reads_each_posts_subscribers_once(connections_sink, monkeypatch):
    from realtime_comments.connections import ConnectionsRepository

    seed_subscribers("post-1", ["s1", "s2"])
    seed_subscribers("post-2", ["t1"])
    reads: list[str] = []
    original = ConnectionsRepository.subscriber_ids

    def counting(self, post_id):
        reads.append(post_id)
        return original(self, post_id)

    monkeypatch.setattr(ConnectionsRepository, "subscriber_ids", counting)
    records = [stream_record("INSERT", new=comment_item("post-1", seq)) for seq in (1, 2, 3)]
    records.append(stream_record("INSERT", new=comment_item("post-2", 1)))
    assert stream_broadcaster.handler(stream_event(*records), None) == {"batchItemFailures": []}

    assert sorted(reads) == ["post-1", "post-2"]
    assert [m["data"]["comment"]["seq"] for m in connections_sink.messages_for("s1")] == [1, 2, 3]
    assert len(connections_sink.messages_for("t1")) == 1
