#define CONFIG_X86 1
