# <tool>_interleaved_checks: `-a A,B,...` over 3 ranks, every row checked. Passes when the tool
# exits 0 (no wrong element on any rank), its JSON holds one row per size and algorithm, the
# algorithms in the order given within each size, and each communicator ran its own algorithm:
# GCCL_ALGO in the environment names another one (ALGO_ENV), which no timed communicator may
# take (only the one the ranks start with, which hands out the others' ids), and the choices
# logged (GCCL_DEBUG=INFO) name each forced algorithm as forced.
#   cmake -DTOOL=... -DJSON=... -DCOLLECTIVE=name -DALGOS=a,b,c -DALGO_ENV=name -DSIZES=n
#         [-DMIN_BYTES=4] -P this file
# COLLECTIVE as the log names it: allreduce, reduce-scatter, ...
if(NOT DEFINED MIN_BYTES)
  set(MIN_BYTES 4)
endif()
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env GCCL_ALGO=${ALGO_ENV} GCCL_DEBUG=INFO GCCL_DEBUG_SUBSYS=COLL
          ${TOOL} --np 3 -a ${ALGOS} -b ${MIN_BYTES} -e 1M -f 16 -n 3 -w 1 --timeout 60
          --json ${JSON}
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
string(JSON listed LENGTH "${json}" interleaved)
if(NOT listed EQUAL n)
  message(FATAL_ERROR "\"interleaved\" lists ${listed} algorithms, expected ${n}: ${json}")
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
if(log MATCHES "${COLLECTIVE} of [0-9]+ bytes[^\n]*\\(GCCL_ALGO=${ALGO_ENV}\\)")
  message(FATAL_ERROR "a communicator took GCCL_ALGO=${ALGO_ENV} from the environment:\n${log}")
endif()
foreach(algo IN LISTS algos)
  if(NOT algo STREQUAL "auto" AND
     NOT log MATCHES "${COLLECTIVE} of [0-9]+ bytes[^\n]*: ${algo}[^\n]*\\(GCCL_ALGO=${algo}\\)")
    message(FATAL_ERROR "no choice logged as ${algo} forced:\n${log}")
  endif()
endforeach()
message(STATUS "${rows} rows, ${n} algorithms in turn, each forced as asked")
