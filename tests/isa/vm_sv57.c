/* Sv57 virtual memory (privileged spec 1.12, 4.6): see vm_common.h. */
#include "vm_common.h"

int main(void)
{
    priv_init("vm_sv57");
    vm_test(5);
    return 0;
}
