// Privacy: what one viewer may know of one user (DESIGN.md "Privacy").
//
// `Project` is the only place a View is made from a user's state. Rules:
//  - A user sees themself in full: no gate applies (kSelf).
//  - Status is shown if `show_online_status` admits the viewer class
//    (everyone; contacts = the user's own contact list; nobody). If it is
//    hidden, or the user was never seen, the View is `{userId}` alone.
//  - Status gates the rest: device, last seen and activity appear only with
//    a visible status, so no field can reveal a hidden status.
//  - `device` only while online or away.
//  - `lastSeen` only with status offline and if `show_last_seen` admits.
//  - `activity` only while online or away and if `show_activity` admits.
//
// Pure functions; no allocation beyond the returned View.

#ifndef PRESENCE_PRIVACY_H_
#define PRESENCE_PRIVACY_H_

#include <string_view>

#include "presence/model.h"

namespace presence {

// True if a setting of `visibility` lets a viewer of class `viewer` see.
bool Admits(Visibility visibility, ViewerClass viewer);

ViewerClass ClassifyViewer(std::string_view viewer_id,
                           std::string_view target_id, bool viewer_is_contact);

View Project(const PresenceState& state, const PrivacySettings& settings,
             ViewerClass viewer);

}  // namespace presence

#endif  // PRESENCE_PRIVACY_H_
