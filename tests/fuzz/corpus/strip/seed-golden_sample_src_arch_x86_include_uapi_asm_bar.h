/* x86 uapi */
#define ASM_BAR 1
