#include "algorithms/schedule.h"

#include <sstream>

namespace gccl {

std::string describeSchedule(const Schedule& schedule) {
  static const char* const kKinds[] = {"send", "recv", "recv-reduce", "copy", "divide"};
  std::ostringstream out;
  for (size_t i = 0; i < schedule.steps.size(); ++i) {
    const Step& s = schedule.steps[i];
    out << i << ": " << kKinds[static_cast<int>(s.kind)] << " peer " << s.peer << " [" << s.offset
        << ", +" << s.count << ") from " << (s.source == BufferRole::kInput ? "input" : "output")
        << " after " << s.after[0] << "," << s.after[1] << "\n";
  }
  return out.str();
}

}  // namespace gccl
