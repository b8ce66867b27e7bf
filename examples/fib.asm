; Fibonacci numbers: a(n) = a(n-1) + a(n-2), a(0) = 0, a(1) = 1.
; The program the README's first command prints, used by its LODA and WAT tool examples.
mov $1,1
lpb $0
  sub $0,2
  add $1,$2
  add $2,$1
lpe
mul $0,$1
add $0,$2
