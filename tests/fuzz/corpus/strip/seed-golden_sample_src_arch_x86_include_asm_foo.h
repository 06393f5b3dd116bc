/* x86 */
#define ASM_FOO 1
