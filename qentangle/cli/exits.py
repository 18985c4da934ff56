"""The one exit-code rule of every command (shown in ``qentangle --help`` and each command's help).

Kept in a module without heavy imports, so the entry point starts (and handles Ctrl-C) at once.
"""

EXIT_DONE, EXIT_ABORTED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CODES_HELP = (
    "exit status: 0 done; 1 the protocol aborted (a security abort is a result: the report is "
    "still printed); 2 bad input (one line on stderr naming the option, the value and the accepted "
    "range); 130 interrupted (Ctrl-C)"
)
