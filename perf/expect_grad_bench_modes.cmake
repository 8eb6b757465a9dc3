# grad_bench_checks: one short run of every mode over ResNet-50's gradients, two ranks. Passes
# when grad_bench exits 0 (no wrong element on any rank) and its JSON holds a row for each mode,
# gloo_per_tensor included whenever gloo_grad_bench was built (a Gloo failure must not pass as
# "not built"). With -DDEVICE=standin the gradients live in (stand-in) device memory: the lazy
# modes only, in copy mode. cmake -DGRAD_BENCH=... -DJSON=... -DWITH_GLOO=0|1 [-DDEVICE=...]
# -P this file.
if(NOT DEFINED DEVICE)
  set(DEVICE host)
endif()
execute_process(
  COMMAND ${GRAD_BENCH} --np 2 --model resnet50 -n 1 -w 0 --device ${DEVICE} --json ${JSON}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "grad_bench exited with ${rc}")
endif()
file(READ ${JSON} json)
set(expected lazy lazy_fp16 lazy_csc_0.1 lazy_csc_0.01)
if(DEVICE STREQUAL "host")
  list(PREPEND expected per_tensor)
  if(WITH_GLOO)
    list(APPEND expected gloo_per_tensor)
  endif()
endif()
string(JSON device GET "${json}" device)
if(NOT device STREQUAL DEVICE)
  message(FATAL_ERROR "device ${device}, expected ${DEVICE}: ${json}")
endif()
string(JSON rows LENGTH "${json}" results)
list(LENGTH expected want)
if(NOT rows EQUAL want)
  message(FATAL_ERROR "${rows} results, expected ${want}: ${json}")
endif()
math(EXPR last "${rows} - 1")
foreach(i RANGE ${last})
  list(GET expected ${i} mode)
  string(JSON got GET "${json}" results ${i} mode)
  string(JSON ms GET "${json}" results ${i} step_ms)
  if(NOT got STREQUAL mode OR NOT ms GREATER 0)
    message(FATAL_ERROR "result ${i}: mode ${got}, step_ms ${ms}; expected ${mode}: ${json}")
  endif()
endforeach()
