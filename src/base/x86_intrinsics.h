// <immintrin.h> for the kernel translation units. GCC 12 reports a false -Wuninitialized inside
// many AVX-512 intrinsics (GCC bug 105593: _mm512_undefined_* initialise a variable from
// itself), which -Werror turns into a build failure; the warning is silenced for the intrinsic
// headers only. Include this first, never <immintrin.h> directly: only the first inclusion is
// covered by the pragmas.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif
