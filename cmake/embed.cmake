# Writes OUTPUT: a C++ file defining `const char ykc::<SYMBOL>[]` with the contents of INPUT.
file(READ "${INPUT}" content)
string(FIND "${content}" ")ykc_embed\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )ykc_embed\"")
endif()
file(WRITE "${OUTPUT}.tmp" "// Generated from ${INPUT} by cmake/embed.cmake. Do not edit.\nnamespace ykc {\nextern const char ${SYMBOL}[];\nconst char ${SYMBOL}[] = R\"ykc_embed(${content})ykc_embed\";\n}  // namespace ykc\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
