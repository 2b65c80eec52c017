# The docs checker (scripts/check-docs.sh): every `dualwrite ...` command
# quoted in a code block of README.md and docs/ must parse with the current
# CLI (DUALWRITE_PARSE_ONLY=1: parsed, not run), and every relative Markdown
# link there must resolve. No server needed: a plain shell test.
add_test(NAME docs_check
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/check-docs.sh --binary $<TARGET_FILE:dualwrite>
    ${PROJECT_SOURCE_DIR})
set_tests_properties(docs_check PROPERTIES LABELS docs TIMEOUT 120)
