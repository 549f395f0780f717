// ScriptServer: tests/support/hostile_server.py running in its own process, for tests
// that need an HTTP peer no server library would imitate (trickling, endless headers).
#pragma once

#include <string>
#include <sys/types.h>

namespace tp_test {

class ScriptServer {
 public:
  // Starts `hostile_server.py mode` with /usr/bin/python3 and waits for its port;
  // throws std::runtime_error when it does not start.
  explicit ScriptServer(const std::string& mode);
  // Kills the server process and reaps it.
  ~ScriptServer();
  ScriptServer(const ScriptServer&) = delete;
  ScriptServer& operator=(const ScriptServer&) = delete;

  std::string url(const std::string& path = "/") const;  // http://127.0.0.1:PORT/path

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace tp_test
