#define UTS_VERSION "#2 objtree"
