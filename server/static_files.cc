#include "static_files.h"

#include <algorithm>
#include <array>
#include <system_error>
#include <utility>

namespace presence::server {
namespace {

namespace fs = std::filesystem;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    const int hi = HexValue(in[i + 1]);
    const int lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool IsInside(const fs::path& root, const fs::path& p) {
  auto [r, q] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  return r == root.end();
}

}  // namespace

std::optional<fs::path> CanonicalStaticRoot(const std::string& dir) {
  if (dir.empty()) return std::nullopt;
  std::error_code ec;
  fs::path root = fs::canonical(dir, ec);
  if (ec || !fs::is_directory(root, ec) || ec) return std::nullopt;
  return root;
}

std::optional<fs::path> ResolveStaticPath(const fs::path& root,
                                          std::string_view target) {
  std::string_view raw = target.substr(0, target.find_first_of("?#"));
  std::optional<std::string> decoded = PercentDecode(raw);
  if (!decoded || decoded->empty() || decoded->front() != '/') {
    return std::nullopt;
  }
  const std::string& path = *decoded;
  if (path.find("..") != std::string::npos ||
      path.find('\0') != std::string::npos ||
      path.find('\\') != std::string::npos) {
    return std::nullopt;
  }
  // Leading slashes go, or `root / "/etc"` would be just "/etc".
  const size_t start = path.find_first_not_of('/');
  std::string relative = start == std::string::npos ? "" : path.substr(start);
  if (relative.empty() || relative.back() == '/') relative += "index.html";

  std::error_code ec;
  fs::path file = fs::weakly_canonical(root / relative, ec);
  if (ec || !IsInside(root, file)) return std::nullopt;
  if (fs::is_directory(file, ec)) {
    file = fs::weakly_canonical(file / "index.html", ec);
    if (ec || !IsInside(root, file)) return std::nullopt;
  }
  if (!fs::is_regular_file(file, ec) || ec) return std::nullopt;
  return file;
}

std::string_view ContentTypeFor(const fs::path& file) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 13>
      kTypes = {{
          {".html", "text/html; charset=utf-8"},
          {".htm", "text/html; charset=utf-8"},
          {".js", "text/javascript; charset=utf-8"},
          {".mjs", "text/javascript; charset=utf-8"},
          {".css", "text/css; charset=utf-8"},
          {".json", "application/json"},
          {".wasm", "application/wasm"},
          {".png", "image/png"},
          {".svg", "image/svg+xml"},
          {".ico", "image/x-icon"},
          {".map", "application/json"},
          {".txt", "text/plain; charset=utf-8"},
          {".webmanifest", "application/manifest+json"},
      }};
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  for (const auto& [e, type] : kTypes) {
    if (e == ext) return type;
  }
  return "application/octet-stream";
}

}  // namespace presence::server
