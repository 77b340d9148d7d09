# One factor for every time budget of the tests (tests/README.md):
# WEFT_TEST_TIME_SCALE, a number >= 1, taken from the environment at the
# first configure or from -DWEFT_TEST_TIME_SCALE=. It multiplies the ctest
# TIMEOUT of every test, and ctest hands it to every test in the environment,
# where tests/common/time_scale.{h,sh} scale the budgets inside the tests.
set(weft_scale_default 1)
if(NOT "$ENV{WEFT_TEST_TIME_SCALE}" STREQUAL "")
  set(weft_scale_default "$ENV{WEFT_TEST_TIME_SCALE}")
endif()
set(WEFT_TEST_TIME_SCALE "${weft_scale_default}" CACHE STRING
    "Multiplies every time budget of the tests (a number >= 1; tests/README.md)")
if(NOT WEFT_TEST_TIME_SCALE MATCHES "^0*([1-9][0-9]*)(\\.([0-9]*))?$")
  message(FATAL_ERROR "WEFT_TEST_TIME_SCALE='${WEFT_TEST_TIME_SCALE}': expected a number >= 1, such as 1, 3 or 1.5")
endif()
# In thousandths, as CMake has integer arithmetic only.
set(weft_scale_frac "${CMAKE_MATCH_3}000")
string(SUBSTRING "${weft_scale_frac}" 0 3 weft_scale_frac)
math(EXPR WEFT_TEST_TIME_SCALE_MILLI "${CMAKE_MATCH_1} * 1000 + 1${weft_scale_frac} - 1000")
if(NOT "$ENV{WEFT_TEST_TIME_SCALE}" STREQUAL "" AND NOT "$ENV{WEFT_TEST_TIME_SCALE}" STREQUAL WEFT_TEST_TIME_SCALE)
  message(WARNING "WEFT_TEST_TIME_SCALE is $ENV{WEFT_TEST_TIME_SCALE} in the environment but ${WEFT_TEST_TIME_SCALE} "
                  "in the cache; the tests use the cached value (-DWEFT_TEST_TIME_SCALE= changes it)")
endif()

# Call at the end of a CMakeLists.txt that adds tests: scales the TIMEOUT of
# each of its tests and passes the factor on.
function(weft_scale_test_times)
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(t IN LISTS tests)
    get_test_property(${t} TIMEOUT timeout)
    if(timeout)
      math(EXPR timeout "(${timeout} * ${WEFT_TEST_TIME_SCALE_MILLI} + 999) / 1000")
      set_tests_properties(${t} PROPERTIES TIMEOUT ${timeout})
    endif()
    set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT "WEFT_TEST_TIME_SCALE=${WEFT_TEST_TIME_SCALE}")
  endforeach()
endfunction()
