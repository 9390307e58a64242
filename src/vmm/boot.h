#ifndef VMON_BOOT_H
#define VMON_BOOT_H
/* `vmon run`: parse options, build the machine, load, run, report. */
int boot_main(int argc, char **argv);
#include <stdio.h>
void boot_usage(FILE *out);
#endif
