/* objtree version */
#define OVERRIDE 1
