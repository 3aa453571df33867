// NodeShare: one cluster node's part of one user's presence.
//
// In cluster mode every node runs its own hub over its own sockets. What a
// node knows of a user from its local sessions alone is its share: the
// winning local session's status, device and activity (aggregated by the
// same rule as on one node), the ids and epochs of the user's sessions held
// there, and, once no local session is active, the last seen they left.
// Nodes exchange shares (the host carries them over Redis pub/sub); each hub
// aggregates its local sessions with the other nodes' shares, so the
// aggregation rule, privacy and projection diff run in one place per viewer,
// exactly as on one node.
//
// A share is a full value, never a delta: applying the same share twice, or
// an older share and then the newer one, ends in the newer state. A share
// with no `status` says "no session of this user here" (a removal).
//
// Times are each node's wall clock in ms since the Unix epoch.

#ifndef PRESENCE_NODE_SHARE_H_
#define PRESENCE_NODE_SHARE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "presence/model.h"

namespace presence {

// A session a node holds, with its epoch (resumes increase it): a node that
// sees another node hold one of its sessions with a higher epoch lets it go
// (the client resumed it there).
struct SessionRef {
  std::string id;
  uint64_t epoch = 0;
  bool operator==(const SessionRef&) const = default;
};

struct NodeShare {
  std::string user_id;
  // The local aggregate; nullopt when the node holds no session of the user.
  std::optional<Status> status;
  Device device = Device::kWeb;  // of the winning session (with status)
  int64_t last_active_ms = 0;    // of the winning session: device tie-break
  // The user's activity as this node last received it, and when (the most
  // recently set activity across nodes wins).
  std::optional<Activity> activity;
  int64_t activity_at_ms = 0;
  // Set only when no local session is online or away: the last seen those
  // sessions left (while active, last seen moves on every frame and no view
  // can show it).
  std::optional<int64_t> last_seen_ms;
  std::vector<SessionRef> sessions;  // sorted by id
  bool operator==(const NodeShare&) const = default;
};

}  // namespace presence

#endif  // PRESENCE_NODE_SHARE_H_
