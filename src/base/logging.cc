#include "base/logging.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string_view>

#include "base/config.h"

namespace gccl {
namespace {

struct LogState {
  std::atomic<int> level{static_cast<int>(LogLevel::kWarn)};
  std::atomic<unsigned> subsys{static_cast<unsigned>(LogSubsys::kAll)};
  std::once_flag configured;
  std::mutex writeMutex;
  FILE* file = stderr;
  std::string host;
};

// Logging is process-wide by nature (one stderr, one log file), so its state is the one
// deliberate global of the core.
LogState& state() {
  static LogState instance;
  return instance;
}

thread_local int tlsRank = -1;

LogLevel parseLevel(std::string_view text) {
  if (text == "NONE") return LogLevel::kNone;
  if (text == "INFO") return LogLevel::kInfo;
  if (text == "TRACE") return LogLevel::kTrace;
  return LogLevel::kWarn;
}

unsigned parseSubsys(std::string_view text) {
  unsigned mask = 0;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    if (item == "INIT") mask |= static_cast<unsigned>(LogSubsys::kInit);
    if (item == "NET") mask |= static_cast<unsigned>(LogSubsys::kNet);
    if (item == "COLL") mask |= static_cast<unsigned>(LogSubsys::kColl);
    if (item == "ALL") mask |= static_cast<unsigned>(LogSubsys::kAll);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  return mask;
}

std::string hostName() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

std::string expandPattern(const std::string& pattern, const std::string& host) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size()) {
      const char key = pattern[++i];
      if (key == 'h')
        out += host;
      else if (key == 'p')
        out += std::to_string(getpid());
      else
        out += key;
    } else {
      out += pattern[i];
    }
  }
  return out;
}

const char* levelName(LogLevel level) {
  switch (level) {
    case LogLevel::kWarn: return "WARN";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kTrace: return "TRACE";
    case LogLevel::kNone: break;
  }
  return "";
}

}  // namespace

void configureLogging(const Config& config) {
  LogState& s = state();
  std::call_once(s.configured, [&] {
    s.host = hostName();
    s.level = static_cast<int>(parseLevel(config.debug));
    s.subsys = parseSubsys(config.debugSubsys);
    if (!config.debugFile.empty()) {
      const std::string path = expandPattern(config.debugFile, s.host);
      // "e" (O_CLOEXEC): a child the application forks and execs must not inherit the log.
      if (FILE* f = std::fopen(path.c_str(), "ae")) s.file = f;
    }
  });
}

bool logEnabled(LogLevel level, LogSubsys subsys) {
  const LogState& s = state();
  return static_cast<int>(level) <= s.level.load(std::memory_order_relaxed) &&
         (s.subsys.load(std::memory_order_relaxed) & static_cast<unsigned>(subsys)) != 0;
}

void setLogRank(int rank) {
  tlsRank = rank;
}

void logLine(LogLevel level, LogSubsys, const std::string& message,
             const std::source_location& where) {
  LogState& s = state();
  std::lock_guard lock(s.writeMutex);
  if (level == LogLevel::kWarn) {
    std::fprintf(s.file, "%s:%d:%d GCCL %s %s:%u %s\n", s.host.c_str(), getpid(), tlsRank,
                 levelName(level), where.file_name(), where.line(), message.c_str());
  } else {
    std::fprintf(s.file, "%s:%d:%d GCCL %s %s\n", s.host.c_str(), getpid(), tlsRank,
                 levelName(level), message.c_str());
  }
  std::fflush(s.file);
}

}  // namespace gccl
