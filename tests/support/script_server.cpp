#include "support/script_server.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

namespace tp_test {

ScriptServer::ScriptServer(const std::string& mode) {
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("ScriptServer: pipe failed");
  const std::string script = std::string(TOKENPASS_TEST_SUPPORT_DIR) + "/hostile_server.py";
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("ScriptServer: fork failed");
  if (pid_ == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl("/usr/bin/python3", "python3", script.c_str(), mode.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  FILE* in = fdopen(out[0], "r");
  int port = 0;
  const bool ok = in != nullptr && std::fscanf(in, "PORT %d", &port) == 1 && port > 0;
  if (in != nullptr) std::fclose(in);
  if (!ok) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    throw std::runtime_error("ScriptServer: hostile_server.py did not start");
  }
  port_ = port;
}

ScriptServer::~ScriptServer() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

std::string ScriptServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

}  // namespace tp_test
