#ifndef VMON_BOOT_H
#define VMON_BOOT_H
/* `vmon run`: parse options, build the machine, load, run, report. */
int boot_main(int argc, char **argv);
/* Parse a size with optional K/M/G/T suffix; 0 on success. */
int parse_size(const char *s, unsigned long long *out);
#endif
