// d1sync: the command line (args.hpp lists the commands, options and exit codes).
#include <csignal>
#include <cstdio>

#include "args.hpp"
#include "commands.hpp"

namespace {

void onSignal(int) {
  // A second Ctrl-C ends the process at once; the fence makes that safe too.
  if (d1sync::cli::gInterrupted.exchange(true)) std::_Exit(d1sync::cli::kInterrupted);
}

}  // namespace

int main(int argc, char** argv) {
  d1sync::cli::Args args;
  std::string out, err;
  const int code = d1sync::cli::parseArgs(argc, argv, args, out, err);
  std::fputs(out.c_str(), stdout);
  std::fputs(err.c_str(), stderr);
  if (code >= 0) return code;
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  // A file size limit (ulimit -f) then fails a write with "disk full" instead of killing us.
  std::signal(SIGXFSZ, SIG_IGN);
  if (args.command == "push") return d1sync::cli::runPush(args);
  if (args.command == "status") return d1sync::cli::runStatus(args);
  if (args.command == "pull") return d1sync::cli::runPull(args);
  if (args.command == "verify") return d1sync::cli::runVerify(args);
  std::fprintf(stderr, "d1sync: unknown command %s\n", args.command.c_str());
  return d1sync::cli::kUsage;
}
