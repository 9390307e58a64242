#ifndef VMON_IMG_H
#define VMON_IMG_H
/* `vmon img create|info`: disk image tools (see img.c). */
#include <stdio.h>
int img_main(int argc, char **argv);
void img_usage(FILE *out);
#endif
