#include "cluster_message.h"

#include <nlohmann/json.hpp>

namespace presence::server {
namespace {

using json = nlohmann::json;

json ShareJson(const NodeShare& s) {
  json j{{"u", s.user_id},
         {"d", ToString(s.device)},
         {"a", s.last_active_ms},
         {"at", s.activity_at_ms}};
  if (s.status) j["st"] = ToString(*s.status);
  if (s.activity) {
    j["ac"] = json{{"k", ToString(s.activity->kind)}, {"x", s.activity->text}};
  }
  if (s.last_seen_ms) j["ls"] = *s.last_seen_ms;
  json sessions = json::array();
  for (const SessionRef& ref : s.sessions) {
    sessions.push_back(json::array({ref.id, ref.epoch}));
  }
  j["ss"] = std::move(sessions);
  return j;
}

bool Ms(const json& j, const char* key, bool required, int64_t* out,
        bool* present = nullptr) {
  auto it = j.find(key);
  if (it == j.end()) return !required;
  if (!it->is_number_integer() || it->get<int64_t>() < 0) return false;
  *out = it->get<int64_t>();
  if (present != nullptr) *present = true;
  return true;
}

std::optional<NodeShare> ShareFrom(const json& j) {
  if (!j.is_object()) return std::nullopt;
  NodeShare s;
  auto u = j.find("u");
  if (u == j.end() || !u->is_string() ||
      !IsValidId(u->get_ref<const std::string&>())) {
    return std::nullopt;
  }
  s.user_id = u->get<std::string>();
  if (auto st = j.find("st"); st != j.end()) {
    if (!st->is_string()) return std::nullopt;
    s.status = ParseStatus(st->get_ref<const std::string&>());
    if (!s.status) return std::nullopt;
  }
  auto d = j.find("d");
  if (d == j.end() || !d->is_string()) return std::nullopt;
  std::optional<Device> device = ParseDevice(d->get_ref<const std::string&>());
  if (!device) return std::nullopt;
  s.device = *device;
  if (!Ms(j, "a", true, &s.last_active_ms) ||
      !Ms(j, "at", true, &s.activity_at_ms)) {
    return std::nullopt;
  }
  bool has_last_seen = false;
  int64_t last_seen = 0;
  if (!Ms(j, "ls", false, &last_seen, &has_last_seen)) return std::nullopt;
  if (has_last_seen) s.last_seen_ms = last_seen;
  if (auto ac = j.find("ac"); ac != j.end()) {
    if (!ac->is_object()) return std::nullopt;
    auto k = ac->find("k");
    auto x = ac->find("x");
    if (k == ac->end() || !k->is_string() || x == ac->end() ||
        !x->is_string() || !IsValidText(x->get_ref<const std::string&>())) {
      return std::nullopt;
    }
    std::optional<ActivityKind> kind =
        ParseActivityKind(k->get_ref<const std::string&>());
    if (!kind || *kind == ActivityKind::kIdle) return std::nullopt;
    s.activity = Activity{*kind, x->get<std::string>()};
  }
  auto ss = j.find("ss");
  if (ss == j.end() || !ss->is_array()) return std::nullopt;
  for (const json& ref : *ss) {
    if (!ref.is_array() || ref.size() != 2 || !ref[0].is_string() ||
        !IsValidId(ref[0].get_ref<const std::string&>()) ||
        !ref[1].is_number_unsigned()) {
      return std::nullopt;
    }
    s.sessions.push_back({ref[0].get<std::string>(), ref[1].get<uint64_t>()});
  }
  return s;
}

std::string_view TypeName(ClusterMessage::Type t) {
  switch (t) {
    case ClusterMessage::Type::kShare:
      return "share";
    case ClusterMessage::Type::kAlive:
      return "alive";
    case ClusterMessage::Type::kSync:
      return "sync";
    case ClusterMessage::Type::kBye:
      return "bye";
    case ClusterMessage::Type::kSettings:
      return "settings";
    case ClusterMessage::Type::kContacts:
      return "contacts";
  }
  return "alive";
}

}  // namespace

std::string EncodeShare(const NodeShare& share) {
  return ShareJson(share).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<NodeShare> DecodeShare(std::string_view text) {
  return ShareFrom(json::parse(text, nullptr, false));
}

std::string EncodeMessage(const ClusterMessage& m) {
  json j{{"t", TypeName(m.type)}, {"n", m.node}};
  switch (m.type) {
    case ClusterMessage::Type::kShare:
      j["s"] = ShareJson(m.share);
      break;
    case ClusterMessage::Type::kSettings:
      j["u"] = m.user_id;
      j["s"] =
          json{{"showOnlineStatus", ToString(m.settings.show_online_status)},
               {"showLastSeen", ToString(m.settings.show_last_seen)},
               {"showActivity", ToString(m.settings.show_activity)}};
      break;
    case ClusterMessage::Type::kContacts:
      j["u"] = m.user_id;
      j["c"] = m.contacts;
      break;
    default:
      break;
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<ClusterMessage> DecodeMessage(std::string_view text,
                                            std::string* error) {
  auto fail = [&](const char* why) -> std::optional<ClusterMessage> {
    *error = why;
    return std::nullopt;
  };
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return fail("not a JSON object");
  auto t = j.find("t");
  auto n = j.find("n");
  if (t == j.end() || !t->is_string()) return fail("t: missing");
  if (n == j.end() || !n->is_string() ||
      !IsValidId(n->get_ref<const std::string&>())) {
    return fail("n: not a node id");
  }
  ClusterMessage m;
  m.node = n->get<std::string>();
  const std::string& type = t->get_ref<const std::string&>();
  if (type == "alive") {
    m.type = ClusterMessage::Type::kAlive;
  } else if (type == "sync") {
    m.type = ClusterMessage::Type::kSync;
  } else if (type == "bye") {
    m.type = ClusterMessage::Type::kBye;
  } else if (type == "share") {
    m.type = ClusterMessage::Type::kShare;
    auto s = j.find("s");
    std::optional<NodeShare> share =
        s == j.end() ? std::nullopt : ShareFrom(*s);
    if (!share) return fail("s: not a valid share");
    m.share = std::move(*share);
  } else if (type == "settings" || type == "contacts") {
    auto u = j.find("u");
    if (u == j.end() || !u->is_string() ||
        !IsValidId(u->get_ref<const std::string&>())) {
      return fail("u: not a user id");
    }
    m.user_id = u->get<std::string>();
    if (type == "settings") {
      m.type = ClusterMessage::Type::kSettings;
      auto s = j.find("s");
      if (s == j.end() || !s->is_object()) return fail("s: missing");
      auto field = [&](const char* name, Visibility* out) {
        auto it = s->find(name);
        if (it == s->end() || !it->is_string()) return false;
        auto v = ParseVisibility(it->get_ref<const std::string&>());
        if (v) *out = *v;
        return v.has_value();
      };
      if (!field("showOnlineStatus", &m.settings.show_online_status) ||
          !field("showLastSeen", &m.settings.show_last_seen) ||
          !field("showActivity", &m.settings.show_activity)) {
        return fail("s: not valid settings");
      }
    } else {
      m.type = ClusterMessage::Type::kContacts;
      auto c = j.find("c");
      if (c == j.end() || !c->is_array() || c->size() > kMaxIdsPerFrame) {
        return fail("c: not a contact list");
      }
      for (const json& id : *c) {
        if (!id.is_string() || !IsValidId(id.get_ref<const std::string&>())) {
          return fail("c: not a contact list");
        }
        m.contacts.push_back(id.get<std::string>());
      }
    }
  } else {
    return fail("t: unknown type");
  }
  return m;
}

}  // namespace presence::server
