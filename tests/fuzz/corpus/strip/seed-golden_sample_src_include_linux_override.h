/* srctree version */
#define OVERRIDE 0
