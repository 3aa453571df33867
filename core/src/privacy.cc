#include "presence/privacy.h"

namespace presence {

bool Admits(Visibility visibility, ViewerClass viewer) {
  if (viewer == ViewerClass::kSelf) return true;
  switch (visibility) {
    case Visibility::kEveryone:
      return true;
    case Visibility::kContacts:
      return viewer == ViewerClass::kContact;
    case Visibility::kNobody:
      return false;
  }
  return false;
}

ViewerClass ClassifyViewer(std::string_view viewer_id,
                           std::string_view target_id, bool viewer_is_contact) {
  if (viewer_id == target_id) return ViewerClass::kSelf;
  return viewer_is_contact ? ViewerClass::kContact : ViewerClass::kOther;
}

View Project(const PresenceState& state, const PrivacySettings& settings,
             ViewerClass viewer) {
  View view;
  view.user_id = state.user_id;
  // Status gates every other field, so a hidden status leaks through none.
  if (!state.status || !Admits(settings.show_online_status, viewer)) {
    return view;
  }
  view.status = state.status;
  // The shape rules hold for self too: lastSeen describes an offline user,
  // device and activity a connected one.
  if (*state.status == Status::kOffline) {
    if (Admits(settings.show_last_seen, viewer)) {
      view.last_seen_ms = state.last_seen_ms;
    }
  } else {
    view.device = state.device;
    if (Admits(settings.show_activity, viewer)) view.activity = state.activity;
  }
  return view;
}

}  // namespace presence
