# <tool>_in_turn_checks: `-a A,B,...` over 3 ranks, every row checked. Passes when the tool exits
# 0 (no wrong element on any rank), its JSON holds one row per size and algorithm, the
# algorithms in the order given within each size, and for the sweep's calls rank 0 logged
# (GCCL_DEBUG=INFO) each forced algorithm as run forced and auto's choice as its own, while
# GCCL_ALGO in the environment names another algorithm (ALGO_ENV) that no rank's timed
# communicator took for them (the communicator the ranks start with, which hands out the
# others' ids, takes it, for its own small calls).
#   cmake -DTOOL=... -DJSON=... -DCOLLECTIVE=name -DALGOS=a,b,c -DALGO_ENV=name -DSIZES=n
#         [-DMIN_BYTES=4] [-DEXTRA="flags;..."] [-DSTAGED=bytes] -P this file
# COLLECTIVE as the log names it: allreduce, reduce-scatter, reduce, ... STAGED: no
# communicator made a call of that many bytes (--device standin stages a row's buffers through
# smaller calls, but only on a communicator that knows the stand-in's memory).
if(NOT DEFINED MIN_BYTES)
  set(MIN_BYTES 4)
endif()
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env GCCL_ALGO=${ALGO_ENV} GCCL_DEBUG=INFO GCCL_DEBUG_SUBSYS=COLL
          ${TOOL} --np 3 -a ${ALGOS} -b ${MIN_BYTES} -e 1M -f 16 -n 3 -w 1 --timeout 60
          --json ${JSON} ${EXTRA}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE log)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${TOOL} exited with ${rc}:\n${out}\n${log}")
endif()
string(REPLACE "," ";" algos "${ALGOS}")
list(LENGTH algos n)
file(READ ${JSON} json)
string(JSON rows LENGTH "${json}" results)
math(EXPR want "${SIZES} * ${n}")
if(NOT rows EQUAL want)
  message(FATAL_ERROR "${rows} rows, expected ${SIZES} sizes x ${n} algorithms: ${json}")
endif()
string(JSON listed LENGTH "${json}" algorithms_in_turn)
if(NOT listed EQUAL n)
  message(FATAL_ERROR "\"algorithms_in_turn\" lists ${listed} algorithms, expected ${n}: ${json}")
endif()
math(EXPR last "${rows} - 1")
foreach(i RANGE ${last})
  math(EXPR k "${i} % ${n}")
  math(EXPR first "${i} - ${k}")
  list(GET algos ${k} algo)
  string(JSON got GET "${json}" results ${i} algorithm)
  string(JSON bytes GET "${json}" results ${i} bytes)
  string(JSON size GET "${json}" results ${first} bytes)
  string(JSON us GET "${json}" results ${i} oop time_us)
  if(NOT got STREQUAL algo OR NOT bytes EQUAL size OR NOT us GREATER 0)
    message(FATAL_ERROR
            "row ${i}: ${got}, ${bytes} bytes, ${us} us; expected ${algo}, ${size} bytes: ${json}")
  endif()
endforeach()
# The choices are logged once per communicator and power of two of the size. Calls of 1000
# bytes and more are the sweep's (the tool's own are its call times and ids, 8 bytes per
# iteration at most, and the --device stand-in stages a large row in smaller calls).
set(sweep_call "rank 0: ${COLLECTIVE} of [0-9][0-9][0-9][0-9]+ bytes on 3 ranks [^\n]*: ")
if(log MATCHES "rank [0-9]+: ${COLLECTIVE} of [0-9][0-9][0-9][0-9]+ bytes[^\n]*\\(GCCL_ALGO=${ALGO_ENV}\\)")
  message(FATAL_ERROR "a communicator took GCCL_ALGO=${ALGO_ENV} from the environment:\n${log}")
endif()
foreach(algo IN LISTS algos)
  if(algo STREQUAL "auto")
    set(line "${sweep_call}[a-z_]+(, predicted [0-9]+ us)?\n")
  else()
    set(line "${sweep_call}${algo}[^\n]*\\(GCCL_ALGO=${algo}\\)")
  endif()
  if(NOT log MATCHES "${line}")
    message(FATAL_ERROR "rank 0 logged no ${algo} choice for a call of the sweep:\n${log}")
  endif()
endforeach()
if(DEFINED STAGED AND log MATCHES "${COLLECTIVE} of ${STAGED} bytes[^\n]*: ([a-z_]+)")
  message(FATAL_ERROR "${CMAKE_MATCH_1} ran ${STAGED} bytes unstaged:\n${log}")
endif()
message(STATUS "${rows} rows, ${n} algorithms in turn, each run as asked")
