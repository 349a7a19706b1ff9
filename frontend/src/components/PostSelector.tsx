"use client";

import type { DemoPost } from "@/lib/posts";
import { useNotifications } from "@/store/notifications";

export function PostSelector({
  posts,
  activePostId,
  onSelect,
}: {
  posts: readonly DemoPost[];
  activePostId: string;
  onSelect: (postId: string) => void;
}) {
  const unread = useNotifications((s) => s.unread);
  return (
    <nav aria-label="Demo posts" className="posts-nav">
      <ul>
        {posts.map((post, i) => {
          const count = unread[post.id] ?? 0;
          const active = post.id === activePostId;
          return (
            <li key={post.id}>
              <button
                type="button"
                className={`post-tab${active ? " post-tab-active" : ""}`}
                aria-current={active ? "page" : undefined}
                onClick={() => onSelect(post.id)}
                data-testid={`post-tab-${post.id}`}
              >
                <span className="post-tab-index">Post {i + 1}</span>
                <span className="post-tab-title">{post.title}</span>
                {count > 0 && (
                  <span className="badge" data-testid={`unread-${post.id}`}>
                    {count} new<span className="visually-hidden"> comments</span>
                  </span>
                )}
              </button>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
