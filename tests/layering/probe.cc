// Compiled by tests/layering with one layer's include path: includes GCCL_PROBE_HEADER.
#include GCCL_PROBE_HEADER
