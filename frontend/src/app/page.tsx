import { RealtimeApp } from "@/components/RealtimeApp";

export default function Page() {
  return <RealtimeApp />;
}
