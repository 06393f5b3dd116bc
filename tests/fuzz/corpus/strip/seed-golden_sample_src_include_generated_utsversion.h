#define UTS_VERSION "#1 SMP whenever"
