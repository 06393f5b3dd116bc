#define ORDER_AB 1
