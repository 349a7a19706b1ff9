export interface DemoPost {
  id: string;
  title: string;
  body: string;
}

/** The demo app's posts; the app stays subscribed to all of them. */
export const DEMO_POSTS: readonly DemoPost[] = [
  {
    id: "post-1",
    title: "Realtime comments are live",
    body: "Open this page in two windows, sign in as two different people and watch comments arrive as they are written.",
  },
  {
    id: "post-2",
    title: "How the WebSocket stays connected",
    body: "Heartbeats every few minutes, a fresh connection before the two-hour limit, and missed comments recovered by sequence number.",
  },
  {
    id: "post-3",
    title: "Ideas for the next release",
    body: "Reactions? Threads? Mentions? Tell us what you would like to see next.",
  },
];

export function postTitle(postId: string): string {
  return DEMO_POSTS.find((p) => p.id === postId)?.title ?? postId;
}
