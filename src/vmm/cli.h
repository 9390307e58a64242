/* Command-line conventions shared by every vmon command: option tables that
 * give both the parser and the help text, `--opt value` and `--opt=value`,
 * "did you mean" for misspellings, sizes as QEMU reads them, and the exit
 * statuses (0 ok, 1 runtime error, 2 usage error). */
#ifndef VMON_CLI_H
#define VMON_CLI_H
#include <stdio.h>

enum { CLI_OK = 0, CLI_ERROR = 1, CLI_USAGE = 2 };

struct cli_opt {
    const char *name; /* "--kernel" */
    const char *arg;  /* "FILE", or NULL for a flag */
    const char *help; /* one line; continuation lines start with '\n' */
    int id;
};

/* Result of cli_next. */
enum { CLI_END, CLI_OPTION, CLI_HELP, CLI_BAD };

struct cli {
    const char *cmd; /* "vmon run", for messages */
    const struct cli_opt *opts;
    unsigned nopts;
    int argc, i;
    char **argv;
    const struct cli_opt *opt; /* the option found */
    const char *value;         /* its value, NULL for a flag */
    const char *positional;    /* set when CLI_OPTION returns a non-option (opt NULL) */
};

void cli_init(struct cli *c, const char *cmd, const struct cli_opt *opts, unsigned nopts, int argc,
              char **argv);
/* Next option (or positional argument, with c->opt NULL). -h and --help
 * give CLI_HELP; an unknown option or a missing value prints a message and
 * gives CLI_BAD. */
int cli_next(struct cli *c);
void cli_print_opts(const struct cli_opt *opts, unsigned nopts, FILE *out);
/* The candidate nearest to word by edit distance, if it is close, else NULL. */
const char *cli_suggest(const char *word, const char *const *cands, unsigned n);

/* A size as QEMU takes it: a number with an optional fraction and a
 * K/M/G/T suffix (powers of 1024, an optional trailing B); a bare number is
 * in units of 2^default_shift (20 for memory sizes: "512" is 512 MiB).
 * Returns 0 or -1. */
int cli_parse_size(const char *s, unsigned default_shift, unsigned long long *out);
#endif
