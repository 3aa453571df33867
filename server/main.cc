// presence-server: flags and environment -> Config, then the Server.
// Exit codes: 0 clean stop (SIGINT/SIGTERM) or --help, 1 could not start
// (database, bind, static dir), 2 bad flags.

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "log.h"
#include "server.h"

int main(int argc, char** argv) {
  using presence::server::ConfigResult;
  std::vector<std::string> args(argv + 1, argv + argc);
  ConfigResult parsed = presence::server::ParseConfig(
      args, [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
      });
  if (parsed.help) {
    std::cout << presence::server::HelpText();
    std::cout.flush();
    return 0;
  }
  if (!parsed.config) {
    std::cerr << "presence-server: " << parsed.error << "\n"
              << "try --help\n";
    return 2;
  }
  presence::server::Logger log(parsed.config->log_level);
  presence::server::Server server(std::move(*parsed.config), &log);
  return server.Run();
}
