// Static files for the demo (--static DIR): request target -> file on disk.
//
// Safe by construction: a target holding "..", a NUL or a backslash (raw or
// percent-encoded) is refused before touching the file system, and the
// resolved path (symlinks followed) must still lie inside the root. No
// Beast here: the HTTP session turns the result into a response.

#ifndef PRESENCE_SERVER_STATIC_FILES_H_
#define PRESENCE_SERVER_STATIC_FILES_H_

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace presence::server {

// The canonical form of a --static directory, or nullopt if it is not a
// directory.
std::optional<std::filesystem::path> CanonicalStaticRoot(
    const std::string& dir);

// The regular file `target` (an HTTP request target, query allowed) names
// under `root` (canonical); "/" and directories map to their index.html.
// Nullopt for anything unsafe or missing.
std::optional<std::filesystem::path> ResolveStaticPath(
    const std::filesystem::path& root, std::string_view target);

// The Content-Type for a file, by extension; application/octet-stream for
// unknown ones.
std::string_view ContentTypeFor(const std::filesystem::path& file);

}  // namespace presence::server

#endif  // PRESENCE_SERVER_STATIC_FILES_H_
