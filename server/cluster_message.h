// ClusterMessage: what nodes say to each other over Redis pub/sub, and the
// stored form of a NodeShare (the node's hash in Redis holds the same JSON).
//
// One JSON object per message, always with the sender's node id "n":
//   {"t":"share","n":..,"s":SHARE}        one user's share on node n changed
//   {"t":"alive","n":..}                  node n's heartbeat
//   {"t":"sync","n":..}                   node n rewrote its whole hash
//   {"t":"bye","n":..}                    node n shut down cleanly
//   {"t":"settings","n":..,"u":USER,"s":{showOnlineStatus..}}
//   {"t":"contacts","n":..,"u":USER,"c":[USER,..]}
// SHARE = {"u":USER,"st":STATUS?,"d":DEVICE,"a":MS,"ac":{"k":KIND,"x":TEXT}?,
//          "at":MS,"ls":MS?,"ss":[[SESSION,EPOCH],..]}
// Decoding checks every field (ids, enums, text) as the client codec does:
// Redis is shared infrastructure, and a bad message is dropped whole, never
// half applied.

#ifndef PRESENCE_SERVER_CLUSTER_MESSAGE_H_
#define PRESENCE_SERVER_CLUSTER_MESSAGE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "presence/model.h"
#include "presence/node_share.h"

namespace presence::server {

struct ClusterMessage {
  enum class Type { kShare, kAlive, kSync, kBye, kSettings, kContacts };
  Type type = Type::kAlive;
  std::string node;
  NodeShare share;                    // kShare
  std::string user_id;                // kSettings, kContacts
  PrivacySettings settings;           // kSettings
  std::vector<std::string> contacts;  // kContacts
};

std::string EncodeShare(const NodeShare& share);
std::optional<NodeShare> DecodeShare(std::string_view text);

std::string EncodeMessage(const ClusterMessage& message);
// nullopt for anything malformed, with `error` saying what.
std::optional<ClusterMessage> DecodeMessage(std::string_view text,
                                            std::string* error);

}  // namespace presence::server

#endif  // PRESENCE_SERVER_CLUSTER_MESSAGE_H_
