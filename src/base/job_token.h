// The job's shared secret. Every connection (store and data) starts by presenting it; a
// connection that does not is refused with a warning and the job goes on.
#pragma once

#include <array>
#include <string_view>

namespace gccl {

inline constexpr size_t kJobTokenBytes = 32;
using JobToken = std::array<char, kJobTokenBytes>;

// 32 bytes from the kernel's CSPRNG.
JobToken randomJobToken();

// A token given as text (GCCL_JOB_TOKEN); when none is given, one derived from the root
// address, so that at least strangers that do not speak gccl's protocol are refused.
JobToken jobTokenFromText(std::string_view text);

// Whether the kJobTokenBytes bytes at `presented` are `token`, without an early exit: how long
// a refusal takes says nothing about how much of a guess was right.
bool isJobToken(const JobToken& token, const void* presented);

}  // namespace gccl
