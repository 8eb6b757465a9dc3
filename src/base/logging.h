// NCCL-shaped logging: GCCL_DEBUG=NONE|WARN|INFO|TRACE, GCCL_DEBUG_SUBSYS, GCCL_DEBUG_FILE.
// Every line carries host, pid and the rank the current thread works for; warnings carry the
// source location.
#pragma once

#include <source_location>
#include <string>

#include "base/error.h"

namespace gccl {

enum class LogLevel : int { kNone = 0, kWarn = 1, kInfo = 2, kTrace = 3 };
enum class LogSubsys : unsigned { kInit = 1, kNet = 2, kColl = 4, kAll = 7 };

struct Config;

// Reads the logging settings once; later calls are ignored (the process logs one way).
void configureLogging(const Config& config);

bool logEnabled(LogLevel level, LogSubsys subsys);

void logLine(LogLevel level, LogSubsys subsys, const std::string& message,
             const std::source_location& where);

// The rank recorded in log lines written by this thread (-1 = none).
void setLogRank(int rank);

template <typename... Parts>
void logWarn(LogSubsys subsys, const std::source_location& where, const Parts&... parts) {
  if (logEnabled(LogLevel::kWarn, subsys))
    logLine(LogLevel::kWarn, subsys, strCat(parts...), where);
}

template <typename... Parts>
void logInfo(LogSubsys subsys, const Parts&... parts) {
  if (logEnabled(LogLevel::kInfo, subsys)) {
    logLine(LogLevel::kInfo, subsys, strCat(parts...), std::source_location::current());
  }
}

template <typename... Parts>
void logTrace(LogSubsys subsys, const Parts&... parts) {
  if (logEnabled(LogLevel::kTrace, subsys)) {
    logLine(LogLevel::kTrace, subsys, strCat(parts...), std::source_location::current());
  }
}

}  // namespace gccl

// Warnings name the file and line of the call; a macro is the only way to capture it while
// keeping a variadic message.
#define GCCL_WARN(subsys, ...) ::gccl::logWarn(subsys, std::source_location::current(), __VA_ARGS__)
