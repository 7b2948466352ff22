# Common settings for every pgwarden target: warnings (as errors) and the
# optional sanitizers. Call pgwarden_target(<target>) after defining one.
set(PGWARDEN_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
    -Wformat=2 -Wimplicit-fallthrough -Wno-missing-field-initializers
    # GCC 12 misreports Asio coroutine frames (operator new/delete of awaitable_frame).
    -Wno-mismatched-new-delete)
if(PGWARDEN_WERROR)
  list(APPEND PGWARDEN_WARNINGS -Werror)
endif()

if(PGWARDEN_SANITIZE AND PGWARDEN_TSAN)
  # The runtimes cannot share one process.
  message(FATAL_ERROR "PGWARDEN_SANITIZE and PGWARDEN_TSAN are mutually exclusive")
endif()
if(PGWARDEN_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
if(PGWARDEN_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
  # Asio's fenced blocks and reference counts use std::atomic_thread_fence,
  # which TSan does not model; GCC warns at every instantiation. What that
  # could hide or cause is triaged in tests/tsan.supp.
  list(APPEND PGWARDEN_WARNINGS -Wno-tsan)
endif()
if(PGWARDEN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PGWARDEN_FUZZ needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
  endif()
  if(PGWARDEN_SANITIZE OR PGWARDEN_TSAN)
    message(FATAL_ERROR "PGWARDEN_FUZZ brings its own sanitizers (ASan+UBSan)")
  endif()
  # Libraries get coverage hooks; only the fuzz targets link libFuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  # The GCC builds own the warning policy. Clang's -Wshadow is wider: it also
  # flags enumerators in a class named like a namespace function (LinkRequest::Kind
  # parse, bind, sync... next to the codec's builders), which is no bug.
  list(APPEND PGWARDEN_WARNINGS -Wno-shadow)
endif()

function(pgwarden_target target)
  target_compile_options(${target} PRIVATE ${PGWARDEN_WARNINGS})
  # Asio's deprecated interfaces stay off; one io_context per process.
  target_compile_definitions(${target} PUBLIC BOOST_ASIO_NO_DEPRECATED)
endfunction()
