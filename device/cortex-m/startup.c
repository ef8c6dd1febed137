/*
 * Reset and the vector table for the Cortex-M4 firmware: copy .data, zero
 * .bss, paint the unused stack (board_stack_high_water reads it back),
 * enable the FPU on hard-float builds, run main, report its status to
 * QEMU through semihosting. A fault ends the run with a failure.
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "semihost.h"

extern uint32_t __data_start, __data_end, __data_load, __bss_start, __bss_end, __stack_limit, __stack_top;
int main(void);
void reset_handler(void) __attribute__((noreturn));

static void fault_handler(void)
{
    sh_puts("firmware: fault\n");
    sh_exit(1);
}

void reset_handler(void)
{
    memcpy(&__data_start, &__data_load, (size_t)((uintptr_t)&__data_end - (uintptr_t)&__data_start));
    memset(&__bss_start, 0, (size_t)((uintptr_t)&__bss_end - (uintptr_t)&__bss_start));
#if defined(__ARM_FP)
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* CPACR: CP10 and CP11 full access */
    __asm__ volatile("dsb\n isb");
#endif
    /* paint from the stack's limit up to a little below the live frame */
    uint32_t *here = (uint32_t *)__builtin_frame_address(0) - 64;
    for (uint32_t *p = &__stack_limit; p < here; p++) {
        *p = 0xA5A5A5A5u;
    }
    sh_exit(main());
}

__attribute__((section(".vectors"), used)) static const void *const vectors[16] = {
    &__stack_top,          /* initial stack pointer */
    (const void *)reset_handler,
    (const void *)fault_handler, /* NMI */
    (const void *)fault_handler, /* HardFault */
    (const void *)fault_handler, /* MemManage */
    (const void *)fault_handler, /* BusFault */
    (const void *)fault_handler, /* UsageFault */
};
