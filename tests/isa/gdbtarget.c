/* A small program for the gdb stub tests (tests/integration/gdb.sh): a loop
 * calling a function, a variable written once at the end, a float. Run on
 * its own it checks its own result like every ISA test. */
#include "common.h"

volatile unsigned long counter;
volatile unsigned long watched;
volatile double ratio = 1.5;

__attribute__((noinline)) void bump(unsigned long i)
{
    counter += i;
}

__attribute__((noinline)) void finish_line(void)
{
    watched = 42;
}

int main(void)
{
    for (unsigned long i = 1; i <= 10; i++)
        bump(i);
    finish_line();
    ratio = ratio * 2;
    CHECK("counter", counter, 55);
    CHECK("watched", watched, 42);
    return 0;
}
