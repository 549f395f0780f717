# tokenpass_set_warnings(target): warnings for tokenpass' own targets only.
function(tokenpass_set_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  endif()
endfunction()
