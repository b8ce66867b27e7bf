"""Build problems.jsonl: arithmetic problems written by hand, each with its answer as a Python
expression, evaluated here so every answer is reproducible.

    python corpora/wat-handwritten/make_problems.py          # rewrites problems.jsonl beside it
    python corpora/wat-handwritten/make_problems.py --check  # exit 1 if problems.jsonl differs

The texts were written one by one, in the wordings people use (word problems with objects and
units, thousands separators, numbers in words, verbs such as "reduced by", "take ... away from",
"double", several steps in one sentence, distractor clauses), NOT taken from the generator in
languages/wat/problems.py. No training recipe reads this folder.

Semantics are those of the WAT programs: signed 64-bit integers; division truncates toward
zero (`i64.div_s`) and the remainder takes the dividend's sign (`i64.rem_s`). Every division
below has non-negative operands, so truncation and floor agree; `tdiv`/`trem` check that, and
every answer is checked to fit in an i64. Levels follow the generator's curriculum:
  1 one operation (add, sub, mul, div, mod, square)
  2 several steps (expressions, chains, polynomials, means, word problems)
  3 loops (sums over ranges, sums of squares, factorials, powers, Fibonacci, sums of multiples)
  4 conditionals (min, max, abs, distance, parity, gcd, lcm, clamp, Collatz steps)
  5 number theory (primality, prime counts, n-th prime, divisor sums and counts, digit sums,
    counts and reversal, largest prime factor, Euler's totient)
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "problems.jsonl"
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1


# ---------------------------------------------------------------- answer helpers (plain Python)

def tdiv(a: int, b: int) -> int:
    """i64.div_s: truncation toward zero (only non-negative operands are used here)."""
    assert a >= 0 and b > 0, (a, b)
    return a // b


def trem(a: int, b: int) -> int:
    """i64.rem_s for non-negative operands."""
    assert a >= 0 and b > 0, (a, b)
    return a % b


def is_prime(n: int) -> int:
    if n < 2:
        return 0
    return int(all(n % d for d in range(2, math.isqrt(n) + 1)))


def primes_upto(n: int) -> list[int]:
    return [k for k in range(2, n + 1) if is_prime(k)]


def nth_prime(k: int) -> int:
    count, m = 0, 1
    while count < k:
        m += 1
        count += is_prime(m)
    return m


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def digit_sum(n: int) -> int:
    return sum(int(c) for c in str(n))


def reverse(n: int) -> int:
    return int(str(n)[::-1])


def largest_prime_factor(n: int) -> int:
    d, last = 2, 1
    while d * d <= n:
        while n % d == 0:
            n //= d
            last = d
        d += 1
    return n if n > 1 else last


def totient(n: int) -> int:
    return sum(1 for k in range(1, n + 1) if math.gcd(k, n) == 1)


def fib(n: int) -> int:
    """F(0) = 0, F(1) = 1."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def collatz_steps(n: int) -> int:
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def clamp(x: int, lo: int, hi: int) -> int:
    return max(lo, min(x, hi))


# ---------------------------------------------------------------- the problems: (level, text, answer expression)

PROBLEMS: list[tuple[int, str, str]] = [
    # level 1: one operation
    (1, "A shelf holds 48 bottles. How many bottles fit on 17 such shelves?", "48 * 17"),
    (1, "The town had 9,876 people last year and 1,234 have moved in since. How many people live there now?",
     "9876 + 1234"),
    (1, "What do you get if you take 389 away from 1,002?", "1002 - 389"),
    (1, "My rent of 1,450 dollars was reduced by 175 dollars. What do I pay now?", "1450 - 175"),
    (1, "How many whole weeks are there in 365 days?", "tdiv(365, 7)"),
    (1, "Double 4,321.", "4321 * 2"),
    (1, "What is three hundred twelve plus forty-five?", "312 + 45"),
    (1, "How many eggs are there in 15 dozen?", "15 * 12"),
    (1, "Split 672 marbles evenly among 8 kids. How many marbles does each kid get?", "tdiv(672, 8)"),
    (1, "A rope 1,000 cm long is cut into pieces of 37 cm each. How many centimetres are left over?",
     "trem(1000, 37)"),
    (1, "What's the square of 1 024?", "1024 * 1024"),
    (1, "Ben is 12 years old and has 340 stickers. He gets 85 more for his birthday. How many stickers does he "
        "have now?", "340 + 85"),
    (1, "What is the difference between 8,000 and 2,718?", "8000 - 2718"),
    (1, "Multiply seven hundred by sixty.", "700 * 60"),
    (1, "If 144 students stand in rows of 12, how many rows are there?", "tdiv(144, 12)"),
    (1, "What is 5,005 minus 6,006?", "5005 - 6006"),
    (1, "A train covers 96 km every hour. How far does it go in 14 hours, in km?", "96 * 14"),
    (1, "What is half of 3,570?", "tdiv(3570, 2)"),
    (1, "A square garden is 75 metres on each side. What is its area in square metres?", "75 * 75"),
    (1, "If 10,000 sweets are shared equally among 7 children, how many sweets are left over?",
     "trem(10000, 7)"),
    (1, "Increase 6,502 by 498.", "6502 + 498"),
    (1, "There are 24 hours in a day. How many hours are there in 31 days?", "24 * 31"),
    (1, "Each box weighs 250 grams. How many grams do twelve boxes weigh?", "250 * 12"),
    (1, "A class of 32 pupils is split into teams of four. How many teams are there?", "tdiv(32, 4)"),
    (1, "What is twice 8,675?", "2 * 8675"),
    (1, "The temperature was -12 degrees and then rose by 30 degrees. What is it now?", "-12 + 30"),
    (1, "Subtract one thousand from 3 500.", "3500 - 1000"),
    (1, "Nine thousand divided by 45 equals what?", "tdiv(9000, 45)"),
    (1, "How many minutes are there in 9 hours?", "9 * 60"),
    (1, "A warehouse has 125 pallets with 64 crates on each pallet. How many crates are there?", "125 * 64"),
    (1, "What is 77 times itself?", "77 * 77"),
    (1, "What number is 2,048 more than 15,360?", "15360 + 2048"),
    # level 2: several steps
    (2, "Lena buys 3 notebooks at 4 dollars each and a pen for 2 dollars. How much does she spend?", "3 * 4 + 2"),
    (2, "Start with 50, double it, then take 17 away. What do you get?", "50 * 2 - 17"),
    (2, "A cinema has 18 rows of 24 seats and 57 seats are taken. How many seats are free?", "18 * 24 - 57"),
    (2, "My three test scores were 82, 94 and 76. What is my average score?", "tdiv(82 + 94 + 76, 3)"),
    (2, "A baker makes 12 trays of 36 rolls and sells all but 45 of them. How many rolls did she sell?",
     "12 * 36 - 45"),
    (2, "Take 1,200, subtract 350, then divide by 5.", "tdiv(1200 - 350, 5)"),
    (2, "How much is (14 + 6) × (9 − 3)?", "(14 + 6) * (9 - 3)"),
    (2, "Sam earns 15 dollars an hour and works 8 hours on Monday and 6 hours on Tuesday. How much does he earn "
        "in total?", "15 * (8 + 6)"),
    (2, "A farmer has 7 pens with 13 sheep in each and buys 20 more sheep. How many sheep does he have?",
     "7 * 13 + 20"),
    (2, "If f(x) = x^3 - 4x + 1, what is f(5)?", "5**3 - 4 * 5 + 1"),
    (2, "Ann had 500 dollars. She spent 120 on shoes and 75 on a jacket. How much does she have left?",
     "500 - 120 - 75"),
    (2, "Three friends split a bill of 96 dollars equally and each adds a 4 dollar tip. How much does each one "
        "pay?", "tdiv(96, 3) + 4"),
    (2, "Multiply 25 by 4, add 300, and then take half of the result.", "tdiv(25 * 4 + 300, 2)"),
    (2, "A school orders 45 boxes of pencils with 24 pencils per box and hands out 1,000 pencils. How many are "
        "left?", "45 * 24 - 1000"),
    (2, "What is 7 times the sum of 18 and 25?", "7 * (18 + 25)"),
    (2, "Subtract the product of 12 and 11 from 1,000.", "1000 - 12 * 11"),
    (2, "Four parcels weigh 12, 25, 37 and 50 kg. What is their average weight in kg?",
     "tdiv(12 + 25 + 37 + 50, 4)"),
    (2, "Tickets cost 8 dollars for adults and 5 for children. A group of 6 adults and 9 children goes to the "
        "zoo. What do they pay altogether?", "6 * 8 + 9 * 5"),
    (2, "Square 13 and then subtract 69.", "13 * 13 - 69"),
    (2, "A tank holds 2,500 litres and loses 35 litres a day for 20 days. How many litres are left?",
     "2500 - 35 * 20"),
    (2, "What number is 15 less than three times 42?", "3 * 42 - 15"),
    (2, "Multiply the sum of 48 and 52 by 48 minus 52.", "(48 + 52) * (48 - 52)"),
    (2, "With x equal to -3, what's 5x^2 - 2x + 7?", "5 * (-3)**2 - 2 * (-3) + 7"),
    (2, "Grace reads 25 pages every evening. After 12 evenings she still has 40 pages to go. How many pages "
        "does her book have?", "25 * 12 + 40"),
    (2, "A box of 6 muffins costs 9 dollars. How much do 42 muffins cost?", "tdiv(42, 6) * 9"),
    (2, "Increase 640 by 160 and divide the total by 8.", "tdiv(640 + 160, 8)"),
    (2, "Two hundred people came on Friday and twice as many on Saturday. How many came over the two days?",
     "200 + 2 * 200"),
    (2, "At dawn it was -4 degrees; by noon it had warmed up by 11 degrees, and by night it had dropped 9 "
        "degrees. What was the temperature at night?", "-4 + 11 - 9"),
    (2, "What do 1,000, 2,000 and 6,000 average out to?", "tdiv(1000 + 2000 + 6000, 3)"),
    (2, "Work out 3(a + b) - ab when a = 4 and b = 7.", "3 * (4 + 7) - 4 * 7"),
    (2, "A bus leaves with 38 passengers. At the first stop 12 get off and 7 get on, and at the second stop 9 "
        "get off. How many passengers are on the bus now?", "38 - 12 + 7 - 9"),
    (2, "In a 30-day month a shop sells 14 bikes a week for 3 weeks at 250 dollars each. How much money does it "
        "take in?", "14 * 3 * 250"),
    (2, "A pack of 24 cans costs 18 dollars. Felix buys 5 packs and pays with a 100 dollar note. How much "
        "change does he get?", "100 - 5 * 18"),
    (2, "Triple 45, then add 15, then divide by 6.", "tdiv(3 * 45 + 15, 6)"),
    # level 3: loops
    (3, "Add together all the whole numbers from 1 up to 250.", "sum(range(1, 251))"),
    (3, "What is 1 + 2 + 3 + ... + 1,000?", "sum(range(1, 1001))"),
    (3, "What's the total of every integer between 40 and 90, both ends included?", "sum(range(40, 91))"),
    (3, "In how many different orders can 9 people stand in a line?", "math.factorial(9)"),
    (3, "Work out 15 factorial for me.", "math.factorial(15)"),
    (3, "What is 2 raised to the 40th?", "2**40"),
    (3, "What is three to the power of twenty?", "3**20"),
    (3, "A colony of bacteria doubles every hour, starting from 1 cell. How many cells are there after 30 "
        "hours?", "2**30"),
    (3, "Compute 7 to the 9th.", "7**9"),
    (3, "What do you get if you square each number from 1 to 30 and add the squares up?",
     "sum(k * k for k in range(1, 31))"),
    (3, "Find 1*1 + 2*2 + 3*3 + ... + 60*60.", "sum(k * k for k in range(1, 61))"),
    (3, "What's the 30th Fibonacci number if F(1) = F(2) = 1?", "fib(30)"),
    (3, "Rabbit pairs grow by the Fibonacci rule: 1, 1, 2, 3, 5, 8 and so on, one number per month. How many "
        "pairs are there in month 24?", "fib(24)"),
    (3, "Add up 5 + 10 + 15 + ... all the way to 995.", "sum(range(5, 996, 5))"),
    (3, "What is the sum of all even numbers from 2 to 200?", "sum(range(2, 201, 2))"),
    (3, "Add the odd numbers from 1 to 99.", "sum(range(1, 100, 2))"),
    (3, "Each day you save one dollar more than the day before, starting with 1 dollar on day one. How much "
        "have you saved after 365 days?", "sum(range(1, 366))"),
    (3, "A stack of cans has 1 can in the top row, 2 in the next row, and so on down to 45 in the bottom row. "
        "How many cans are in the stack?", "sum(range(1, 46))"),
    (3, "What is eleven to the fifth power?", "11**5"),
    (3, "What is (-3) to the seventh power?", "(-3)**7"),
    (3, "What is the product of the first 10 positive integers?", "math.factorial(10)"),
    (3, "A pyramid of cubes has a 1 by 1 layer on top, then 2 by 2, then 3 by 3, down to a 20 by 20 layer at "
        "the bottom. How many cubes does it contain?", "sum(k * k for k in range(1, 21))"),
    (3, "Add all the integers from -50 to 75.", "sum(range(-50, 76))"),
    (3, "How big is 5^20?", "5**20"),
    (3, "One grain of rice goes on the first square of a board, 2 on the second, 4 on the third, doubling "
        "each time. How many grains are on square 40 alone?", "2**39"),
    (3, "What do the whole numbers from one hundred to two hundred add up to?", "sum(range(100, 201))"),
    (3, "Take the Fibonacci numbers 0, 1, 1, 2, 3, 5, 8, 13, ... counting 0 as the 1st term. What is the 40th "
        "term?", "fib(39)"),
    (3, "Sum all multiples of 4 from 4 up to 400.", "sum(range(4, 401, 4))"),
    (3, "It's 2026 and my nephew, who is 9, wants the sum of all the numbers from 1 to 75. What is it?",
     "sum(range(1, 76))"),
    (3, "What is 12 multiplied by itself 5 times over, that is 12^5?", "12**5"),
    (3, "How many grains in total if you put 3 on day one, 6 on day two, 9 on day three, and so on up to 90 "
        "on the last day?", "sum(range(3, 91, 3))"),
    (3, "Multiply all the numbers from 1 through 18 together.", "math.factorial(18)"),
    # level 4: conditionals
    (4, "Which is bigger, 4,821 or 4,812?", "max(4821, 4812)"),
    (4, "Of the temperatures -7, 3, -15 and 0, which is the coldest?", "min(-7, 3, -15, 0)"),
    (4, "Tom is 152 cm tall, Ana is 167 cm and Raj is 159 cm. How tall is the tallest of them, in cm?",
     "max(152, 167, 159)"),
    (4, "What is the lowest of these prices: 349, 299, 315, 402?", "min(349, 299, 315, 402)"),
    (4, "How far is -250 from 125?", "abs(-250 - 125)"),
    (4, "The thermometer read -18 in the morning and 7 in the afternoon. By how many degrees did it change?",
     "abs(7 - (-18))"),
    (4, "What's the magnitude of -9,040?", "abs(-9040)"),
    (4, "Ignoring its sign, how large is -4,096?", "abs(-4096)"),
    (4, "Is 1,234,567 an even number? Say 1 if it is, 0 if it is not.", "int(1234567 % 2 == 0)"),
    (4, "Can 98 pens be shared between two people with none left over? Reply 1 for yes, 0 for no.",
     "int(98 % 2 == 0)"),
    (4, "Is three hundred twelve odd? Give 1 for yes and 0 for no.", "int(312 % 2 == 1)"),
    (4, "What is the biggest number that divides both 84 and 126 exactly?", "math.gcd(84, 126)"),
    (4, "A 48 m by 180 m field is cut into equal square plots, as large as possible. How long is the side of "
        "each plot in metres?", "math.gcd(48, 180)"),
    (4, "GCD of 1,071 and 462?", "math.gcd(1071, 462)"),
    (4, "One bus leaves every 12 minutes and another every 18 minutes. If both leave now, after how many "
        "minutes do they next leave together?", "math.lcm(12, 18)"),
    (4, "What is the smallest number that both 14 and 21 divide into?", "math.lcm(14, 21)"),
    (4, "Find the lowest number that is a multiple of 25 and of 40.", "math.lcm(25, 40)"),
    (4, "A volume knob goes from 0 to 100. If someone tries to set it to 137, where does it end up?",
     "clamp(137, 0, 100)"),
    (4, "Bound -45 to the interval from -10 to 10.", "clamp(-45, -10, 10)"),
    (4, "Clip the value 58 so that it stays within 60 and 90.", "clamp(58, 60, 90)"),
    (4, "Starting from 27, halve the number when it is even, otherwise triple it and add one. How many steps "
        "does it take to reach 1?", "collatz_steps(27)"),
    (4, "How many Collatz steps does 97 need to get down to 1?", "collatz_steps(97)"),
    (4, "In the 3n+1 problem, how many moves take 6 to 1?", "collatz_steps(6)"),
    (4, "Which of 17, 23, -40, 8 and 11 is the smallest?", "min(17, 23, -40, 8, 11)"),
    (4, "Which is larger: -500 or -50?", "max(-500, -50)"),
    (4, "What is the gap between 1,999 and 2,024?", "abs(1999 - 2024)"),
    (4, "Answer 1 if 10,001 splits into two equal whole halves, else 0.", "int(10001 % 2 == 0)"),
    (4, "Find the greatest common factor of 360 and 756.", "math.gcd(360, 756)"),
    (4, "Two gears have 15 and 35 teeth. After how many teeth have passed do the same two teeth meet again?",
     "math.lcm(15, 35)"),
    (4, "Which is smaller: three dozen or 40?", "min(36, 40)"),
    (4, "Five friends scored 88, 92, 75, 92 and 81 points. What was the best score?", "max(88, 92, 75, 92, 81)"),
    (4, "A thermostat keeps the room between 18 and 24 degrees. It is asked for 16 degrees. What does it set?",
     "clamp(16, 18, 24)"),
    # level 5: number theory
    (5, "Is 221 a prime? Reply 1 if so and 0 if not.", "is_prime(221)"),
    (5, "Is 7,919 prime? 1 for yes, 0 for no.", "is_prime(7919)"),
    (5, "Tell me with 1 or 0 whether 1 009 is prime (1 means prime).", "is_prime(1009)"),
    (5, "How many primes are there below 100?", "len(primes_upto(99))"),
    (5, "Count the prime numbers from 1 up to one thousand.", "len(primes_upto(1000))"),
    (5, "How many prime numbers lie between 1 and 2,500?", "len(primes_upto(2500))"),
    (5, "Counting 2 as the first prime, which prime comes 100th?", "nth_prime(100)"),
    (5, "If you list the primes in order starting with 2, what is the tenth one?", "nth_prime(10)"),
    (5, "Which prime is number 250 in the list of primes?", "nth_prime(250)"),
    (5, "What do all the divisors of 360 add up to?", "sum(divisors(360))"),
    (5, "Sum the factors of 28, including 28 itself.", "sum(divisors(28))"),
    (5, "How many different numbers divide 720 exactly?", "len(divisors(720))"),
    (5, "How many factors does one thousand have?", "len(divisors(1000))"),
    (5, "Add up the digits in 9,876,543.", "digit_sum(9876543)"),
    (5, "What's the sum of the digits of the year 2026?", "digit_sum(2026)"),
    (5, "How many digits are in 12,345,678,901?", "len(str(12345678901))"),
    (5, "How long is the number 4 000 000 000 when written out in digits?", "len(str(4000000000))"),
    (5, "Flip the digits of 12,345 around. What number results?", "reverse(12345)"),
    (5, "Read 908,172 from right to left. What number do you get?", "reverse(908172)"),
    (5, "What's the biggest prime that goes into 13,195?", "largest_prime_factor(13195)"),
    (5, "What is the highest prime factor of 600851?", "largest_prime_factor(600851)"),
    (5, "What is the largest prime dividing 1,001?", "largest_prime_factor(1001)"),
    (5, "How many fractions k/100 with k from 1 to 100 are already in lowest terms?", "totient(100)"),
    (5, "Find the totient of 1,000.", "totient(1000)"),
    (5, "Is 104,729 prime? Answer 1 for yes, 0 for no.", "is_prime(104729)"),
    (5, "How many divisors does 5,040 have?", "len(divisors(5040))"),
    (5, "Is fifty-seven a prime number? Use 1 for prime, 0 otherwise.", "is_prime(57)"),
    (5, "Give the sum of the digits of 1 000 000 007.", "digit_sum(1000000007)"),
    (5, "What is the count of primes not exceeding 3,000?", "len(primes_upto(3000))"),
    (5, "Reverse 7,006 digit by digit.", "reverse(7006)"),
    (5, "How many of the numbers 1 to 50 have no common factor with 50 apart from 1?", "totient(50)"),
    (5, "My locker number is 4711 and my bike lock code is 369. Is my locker number prime? 1 = yes, 0 = no.",
     "is_prime(4711)"),
]


def build() -> list[dict]:
    names = {name: value for name, value in globals().items() if not name.startswith("_")}
    rows: list[dict] = []
    counters: dict[int, int] = {}
    texts: set[str] = set()
    for level, text, expression in PROBLEMS:
        assert level in (1, 2, 3, 4, 5), (level, text)
        assert text not in texts, f"duplicate text {text!r}"
        texts.add(text)
        answer = eval(expression, {"__builtins__": {"sum": sum, "range": range, "len": len, "str": str, "int": int,
                                                   "abs": abs, "min": min, "max": max}}, names)
        assert isinstance(answer, int) and not isinstance(answer, bool), (text, answer)
        assert I64_MIN <= answer <= I64_MAX, (text, answer)
        counters[level] = counters.get(level, 0) + 1
        rows.append({"id": f"hw-L{level}-{counters[level]:02d}", "text": text, "answer": answer, "level": level,
                     "expression": expression})
    return rows


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that problems.jsonl is up to date")
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    rows = build()
    per_level = {level: sum(1 for r in rows if r["level"] == level) for level in range(1, 6)}
    print(f"wrote {len(rows)} problems to {OUT}: {per_level}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
