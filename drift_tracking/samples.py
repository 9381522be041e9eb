"""Seeded generator of realistic support-bot / assistant LLM traffic.

The demo, the tests and the examples use it instead of an external data set. Everything
is data-driven: :data:`TOPICS` maps a topic to its slot fillers and *intents*; an intent
holds prompt templates (questions, imperatives, long polite messages, terse ones) and
matching assistant responses that reuse the same slot values. A sample draws a topic,
an intent, a prompt and a response template, fills every ``{slot}`` once (so prompt and
response agree on the product, city, amount ...) and sometimes wraps the prompt in a
greeting / sign-off or writes it tersely in lower case.

Base topics are what a fine-tuned support assistant normally sees; novel topics never
appear in a baseline and are used to simulate data drift. Degraded responses
(off-topic, evasive, truncated or wrong) simulate concept drift of answer quality.

>>> s = generate(3, seed=1)
>>> len(s), s[0].timestamp
(3, '2026-01-01T00:00:00Z')
"""

from __future__ import annotations

import csv
import json
import random
import re
import string
import zlib
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

__all__ = [
    "Sample",
    "TOPICS",
    "BASE_TOPICS",
    "NOVEL_TOPICS",
    "generate",
    "to_records",
    "to_frame",
    "golden_set",
    "answer_golden",
    "write",
]

MAX_PROMPT_WORDS = 40


@dataclass(frozen=True)
class Sample:
    """One generated request: a user prompt, the assistant's response and where it came from."""

    id: str
    prompt: str
    response: str
    topic: str
    novel: bool
    timestamp: str  # ISO 8601, UTC, "Z" suffix


# -- slot fillers shared by every topic ---------------------------------------------------
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

COMMON_SLOTS: dict[str, list[str]] = {
    "name": ["Anna", "Ben", "Carlos", "Priya", "Mei", "Tom", "Fatima", "Lukas", "Sofia", "James",
             "Aisha", "Daniel", "Yuki", "Olivia", "Mateo", "Chloe", "Omar", "Hannah", "Ravi", "Emma"],
    "month": _MONTHS,
    "weekday": _WEEKDAYS,
    "city": ["London", "Berlin", "Madrid", "Chicago", "Toronto", "Sydney", "Lisbon", "Dublin", "Austin",
             "Denver", "Seattle", "Boston", "Amsterdam", "Vienna", "Warsaw", "Manchester", "Lyon", "Milan"],
}

# Slots whose values are made up on the fly (thousands of distinct values).
GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "order_id": lambda r: f"#{r.randint(100000, 999999)}",
    "amount": lambda r: f"${r.randint(5, 250)}.{r.choice(['00', '49', '99', '95', '50', '19'])}",
    "date": lambda r: f"{r.choice(_MONTHS)} {r.randint(1, 28)}",
    "days": lambda r: str(r.randint(2, 12)),
    "hours": lambda r: str(r.randint(2, 48)),
    "count": lambda r: str(r.randint(2, 9)),
    "invoice_id": lambda r: f"INV-2026-{r.randint(1000, 9999)}",
    "tracking": lambda r: f"1Z{r.randint(10**9, 10**10 - 1)}",
    "last4": lambda r: f"{r.randint(0, 9999):04d}",
    "flight": lambda r: f"{r.choice(['BA', 'LH', 'AF', 'KL', 'IB', 'UA', 'AA', 'DL'])}{r.randint(100, 2999)}",
    "time": lambda r: f"{r.randint(1, 12)}:{r.choice(['00', '15', '30', '45'])} {r.choice(['am', 'pm'])}",
    "servings": lambda r: str(r.randint(2, 12)),
    "minutes": lambda r: str(r.choice([10, 15, 20, 25, 30, 40, 45, 60, 90])),
    "kg": lambda r: str(r.randint(50, 120)),
    "km": lambda r: str(r.choice([3, 5, 8, 10, 12, 15, 21, 30])),
    "income": lambda r: f"${r.randint(18, 95) * 100:,}",
    "debt": lambda r: f"${r.randint(2, 60) * 500:,}",
    "percent": lambda r: str(r.randint(3, 25)),
    "age": lambda r: str(r.randint(1, 14)),
    "coins": lambda r: f"{r.randint(1, 50) / 10:.1f}",
    "level": lambda r: str(r.randint(5, 80)),
    "line": lambda r: str(r.randint(3, 400)),
}

# -- topic tables ------------------------------------------------------------------------
# Each topic: "slots" (fillers, merged over COMMON_SLOTS / GENERATORS) and "intents", a
# list of {"prompts": [...], "responses": [...], "answers": [...]}: answers[i] lists the
# responses that answer prompts[i] (any response of the intent when "answers" is absent).
# Filled prompt templates are 6-40 words; "novel": True marks topics never in a baseline.
TOPICS: dict[str, dict[str, Any]] = {
    "billing": {
        "slots": {
            "plan": ["Basic", "Plus", "Premium", "Family", "Business", "Student", "Pro", "Team"],
            "card": ["Visa card", "Mastercard", "American Express card", "PayPal account", "debit card",
                     "Discover card", "company credit card"],
        },
        "intents": [
            {
                "prompts": [
                    "I was charged twice for my {plan} subscription this month, {amount} each time. Can you fix this?",
                    "Why is there a second charge of {amount} on my {card} for the {plan} plan?",
                    "double charged {amount} on my {card}, please refund the duplicate",
                    "I just checked my bank statement and there are two identical charges of {amount} for the {plan} plan in {month}. I only have one account, so this looks like a mistake. Could you look into it?",
                    "There's a charge of {amount} from you on {date} that I don't recognise. What is it for?",
                ],
                "responses": [
                    "I'm sorry about the duplicate charge. I've flagged the second {amount} payment on your {card} and it will be reversed within 5-7 business days.",
                    "Thanks for letting us know. The extra {amount} charge for the {plan} plan was a processing error, and a refund has been issued to your {card}.",
                    "I can see the {amount} charge in your billing history: it is the renewal of your {plan} plan. If you did not authorise it, reply here and I will open a dispute for you.",
                ],
                "answers": [[0, 1], [0, 1], [0, 1], [0, 1], [2]],
            },
            {
                "prompts": [
                    "Where can I download the invoice for {month}? I need it for my expense report.",
                    "Please send me invoice {invoice_id} again, I can't find the email.",
                    "Can I get a VAT invoice with my company name on it for the {plan} plan?",
                    "how do i find my invoices for {month}",
                    "My accountant needs all of last year's receipts for the {plan} subscription. Is there a way to export them in one go?",
                ],
                "responses": [
                    "You can download every invoice under Account > Billing > Invoices; the one for {month} is listed there as a PDF.",
                    "I've resent invoice {invoice_id} to the email address on your account. If it doesn't arrive in a few minutes, please check your spam folder.",
                    "Add your company name and VAT number under Billing > Tax details and all future {plan} invoices will include them. Past invoices can be regenerated from the same page.",
                ],
                "answers": [[0], [1], [2], [0], [0]],
            },
            {
                "prompts": [
                    "How do I update the card on file? My old {card} expired last month.",
                    "I'd like to downgrade from {plan} to a cheaper plan before the next billing date on {date}. What happens to my data?",
                    "Change my payment method to my {card} please, the current one keeps getting declined.",
                    "Is it possible to switch to annual billing for the {plan} plan and get the discount?",
                    "payment declined again for {plan} plan, what do I do",
                ],
                "responses": [
                    "You can update your payment method under Account > Billing > Payment methods; add your {card} and set it as the default before {date}.",
                    "Plan changes take effect at the start of your next billing cycle on {date}, and you keep all your data when you switch away from {plan}.",
                    "Annual billing for the {plan} plan saves 20% compared with paying monthly. You can switch under Billing > Plan, and we'll credit the unused part of this month.",
                ],
                "answers": [[0], [1], [0], [2], [0]],
            },
        ],
    },
    "shipping_delivery": {
        "slots": {
            "product": ["running shoes", "blender", "winter jacket", "phone case", "desk lamp", "backpack",
                        "coffee grinder", "yoga mat", "bluetooth speaker", "office chair", "kettle",
                        "set of towels", "gaming mouse", "sofa cushion", "air fryer"],
            "carrier": ["UPS", "FedEx", "DHL", "USPS", "Royal Mail", "DPD", "the courier"],
        },
        "intents": [
            {
                "prompts": [
                    "Where is my order {order_id}? It was supposed to arrive on {date}.",
                    "My {product} still hasn't arrived and the tracking hasn't updated in {days} days. What's going on?",
                    "can you track order {order_id} for me please",
                    "Hi, I ordered a {product} over a week ago and {carrier} says it's still in transit. Can you tell me when it will actually be delivered?",
                    "The tracking number {tracking} shows no movement since {weekday}. Is my parcel lost?",
                ],
                "responses": [
                    "Your order {order_id} is with {carrier} and is now expected on {date}. You can follow it with tracking number {tracking}.",
                    "I'm sorry for the delay. {carrier} reports that your {product} is at the local depot and should be delivered within 2 business days.",
                    "If a parcel shows no tracking updates for {days} days, we open an investigation with {carrier}; if it isn't found within 48 hours we'll send a replacement {product} at no cost.",
                ],
                "answers": [[0], [1, 2], [0], [1], [2]],
            },
            {
                "prompts": [
                    "Can I change the delivery address for order {order_id}? I'm moving to {city} next week.",
                    "I need to update the shipping address on my {product} order before it ships.",
                    "Is it possible to have my package delivered to a pickup point in {city} instead of my home?",
                    "wrong address on order {order_id}, can you fix it",
                ],
                "responses": [
                    "As long as order {order_id} hasn't shipped, you can change the address under Orders > Edit delivery. I've noted the new address in {city} for you.",
                    "Your {product} order is already with {carrier}, so the address can't be changed here, but you can redirect it to a pickup point in {city} from the tracking page.",
                ],
                "answers": [[0], [0], [1], [0]],
            },
            {
                "prompts": [
                    "How long does standard shipping to {city} take?",
                    "Do you offer express delivery? I need the {product} by {weekday}.",
                    "What are the shipping costs for a {product} to {city}?",
                    "Do you ship internationally, and which carriers do you use for orders to {city}?",
                    "if I order the {product} today will it arrive before {date}",
                ],
                "responses": [
                    "Standard shipping to {city} takes 3-5 business days and is free on orders over $50. Express delivery arrives in 1-2 business days for $14.99.",
                    "If you order the {product} before 2 pm and choose express shipping at checkout, it should arrive by {weekday}.",
                    "We ship orders to {city} with {carrier}; you'll see the exact cost and delivery estimate for your {product} at checkout before you pay.",
                ],
                "answers": [[0], [1], [2], [2], [1]],
            },
        ],
    },
    "account_password": {
        "slots": {
            "device": ["iPhone", "Android phone", "laptop", "work computer", "iPad", "Chromebook", "new phone", "MacBook",
                       "Samsung Galaxy", "Pixel phone", "Windows PC", "smart TV", "tablet", "desktop browser"],
            "error": ["'Invalid credentials'", "'Too many attempts, try again later'", "'Session expired'",
                      "'Account locked'", "'Verification code incorrect'", "'Something went wrong (error 401)'"],
            "provider": ["Gmail", "Outlook", "Yahoo", "iCloud", "work", "university", "Proton Mail"],
            "app": ["Google Authenticator", "Authy", "Microsoft Authenticator", "text message codes", "a security key",
                    "1Password", "a YubiKey", "Duo Mobile", "email codes"],
        },
        "intents": [
            {
                "prompts": [
                    "I forgot my password and the reset email never arrives at my {provider} address. What should I do?",
                    "How do I reset my password on my {device}? I last logged in on {date}.",
                    "reset password link expired on my {device}, need a new one",
                    "I keep getting {error} when I try to log in on my {device}, even though I'm sure the password is right.",
                    "Hello, I've been locked out of my account since {weekday} after entering the wrong password a few times. Could you please help me get back in?",
                ],
                "responses": [
                    "Tap 'Forgot password' on the sign-in screen of your {device} and we'll email you a reset link, which stays valid for 24 hours. Check your spam folder if it doesn't show up.",
                    "The {error} message appears after 5 failed attempts; your account unlocks automatically after 30 minutes, or right away once you reset your password.",
                    "I've sent a fresh password reset link to the email on your account. Use it within 24 hours and choose a password of at least 12 characters.",
                ],
                "answers": [[0, 2], [0], [2], [1], [1]],
            },
            {
                "prompts": [
                    "How can I turn on two-factor authentication with {app} on my {device}?",
                    "I got a new {device} and lost access to {app}. How do I log in now?",
                    "my 2fa codes from {app} don't work anymore since {weekday}",
                    "Is it possible to use {app} instead of SMS for the login verification step on my {device}?",
                ],
                "responses": [
                    "Go to Settings > Security > Two-factor authentication and choose {app}; scan the QR code and enter the 6-digit code to confirm.",
                    "Use one of the backup codes you saved when you enabled two-factor authentication. If you don't have them, we can verify your identity by email and reset {app} on your new {device}.",
                    "If the codes from {app} are rejected, the clock on your {device} is probably out of sync; turn on automatic time and try again.",
                ],
                "answers": [[0], [1], [2], [0]],
            },
            {
                "prompts": [
                    "How do I change the email address on my account to my new {provider} one?",
                    "I want to delete my account and all my data before {date}. How do I do that?",
                    "Can I merge two accounts? I accidentally signed up twice, once with my {provider} email and once on my {device}.",
                    "please change the username on my profile to {name}{count}",
                    "How do I sign out of all devices? I think someone else logged in from {city}.",
                ],
                "responses": [
                    "You can change your email under Settings > Account > Email; we'll send a confirmation link to the new address before the change takes effect.",
                    "If you saw a sign-in from {city} that wasn't you, choose Settings > Security > Sign out everywhere and then change your password right away.",
                    "Account deletion is under Settings > Privacy > Delete account. Your data is removed permanently after a 14-day grace period, during which you can still cancel.",
                    "We can't merge accounts automatically, but support can move your purchases and history into one of them; reply with both email addresses and it's done within 2 business days.",
                    "You can change your username to {name} under Settings > Profile; the old username becomes available to others after 30 days.",
                ],
                "answers": [[0], [2], [3], [4], [1]],
            },
        ],
    },
    "refunds_returns": {
        "slots": {
            "product": ["headphones", "dress", "pair of jeans", "toaster", "smartwatch", "children's bike",
                        "wool sweater", "electric toothbrush", "mixer", "sneakers", "tablet", "rug", "suitcase"],
            "problem": ["arrived broken", "is the wrong size", "stopped working after two days",
                        "is a different colour than in the photos", "was missing parts", "arrived scratched",
                        "doesn't fit", "is the wrong model"],
        },
        "intents": [
            {
                "prompts": [
                    "How do I return a {product} that {problem}?",
                    "The {product} I ordered {problem}. I'd like to send it back.",
                    "i want to return the {product}, it {problem}",
                    "I received my order {order_id} yesterday but the {product} {problem}. What is the process for returning it, and do I have to pay for the return label?",
                    "Can I still return the {product} I bought on {date}?",
                ],
                "responses": [
                    "You can return the {product} within 30 days of delivery. Start the return under Orders > {order_id} > Return item and we'll email you a prepaid label.",
                    "I'm sorry the {product} {problem}. Since it's our mistake, the return label is free; just drop the parcel at any post office within 30 days.",
                    "Items bought on {date} are still within the 30-day return window, so you can return the {product} from your order history.",
                ],
                "answers": [[0, 1], [0, 1], [0, 1], [1, 0], [2]],
            },
            {
                "prompts": [
                    "When will I get my refund for the {product}? I sent it back {days} days ago.",
                    "I returned order {order_id} but haven't received the {amount} refund yet.",
                    "whats the refund status for order {order_id}?",
                    "It has been two weeks since your warehouse received my returned {product} and the {amount} still isn't back on my card. Could you check what is happening?",
                ],
                "responses": [
                    "Refunds are issued within 2 days of the return arriving at our warehouse, and your bank may take 5-7 business days to show the {amount}.",
                    "Your return for order {order_id} was received and the refund of {amount} was issued today; it should appear on your statement within 5-7 business days.",
                ],
                "answers": [[0], [1], [1], [0, 1]],
            },
            {
                "prompts": [
                    "Can I exchange the {product} for a different size instead of getting a refund?",
                    "I'd prefer store credit rather than money back for the {product}. Is that possible?",
                    "Do you charge a restocking fee if I return an opened {product}?",
                    "exchange {product} for another colour please",
                ],
                "responses": [
                    "Yes, choose 'Exchange' instead of 'Refund' when you start the return, and we'll ship the new {product} as soon as the original is scanned by the carrier.",
                    "Opened electronics carry a 15% restocking fee unless they are faulty; unopened items like your {product} are refunded in full.",
                    "Store credit is issued instantly once the {product} is received, and it comes with a 10% bonus on top of the {amount} purchase price.",
                ],
                "answers": [[0], [2], [1], [0]],
            },
        ],
    },
    "travel_booking": {
        "slots": {
            "destination": ["Lisbon", "Rome", "Barcelona", "Tokyo", "New York", "Reykjavik", "Athens", "Prague",
                            "Bangkok", "Cape Town", "Vancouver", "Edinburgh", "Marrakech", "Bali"],
            "hotel": ["the Grand Central Hotel", "a beachfront resort", "the airport Hilton", "a boutique hotel",
                      "the Marriott downtown", "a family apartment", "an Ibis budget room"],
            "seat": ["window seat", "aisle seat", "extra legroom seat", "seat next to my partner", "exit row seat"],
        },
        "intents": [
            {
                "prompts": [
                    "Find me the cheapest flight from {city} to {destination} on {date}.",
                    "Are there any direct flights from {city} to {destination} next {weekday}?",
                    "flights {city} to {destination} {date}, 2 adults",
                    "I'm planning a trip to {destination} with my family in {month}. Could you suggest flights from {city} that leave in the morning and don't cost a fortune?",
                    "What's the best time of year to book flights to {destination} if I want low prices?",
                ],
                "responses": [
                    "The cheapest option from {city} to {destination} on {date} is flight {flight}, departing at {time} for {amount} per person including a carry-on bag.",
                    "There is one direct flight from {city} to {destination} on {weekday}, {flight} at {time}; other options have a single connection and are about {amount} cheaper.",
                    "For {destination}, fares are usually lowest when you book 6-8 weeks ahead and fly midweek; {month} is shoulder season, so prices should be reasonable.",
                ],
                "answers": [[0], [1], [0, 1], [0], [2]],
            },
            {
                "prompts": [
                    "Can you book {hotel} in {destination} for {count} nights from {date}?",
                    "I need to cancel my hotel reservation in {destination}. Will I get my money back?",
                    "Is breakfast included at {hotel} in {destination}?",
                    "change my hotel booking in {destination} to check in on {date}",
                ],
                "responses": [
                    "I've found {hotel} in {destination} for {count} nights from {date} at {amount} per night; shall I confirm the booking with free cancellation until 48 hours before arrival?",
                    "Your booking at {hotel} has free cancellation up to 48 hours before check-in, so cancelling now gives you a full refund.",
                    "Breakfast at {hotel} in {destination} is included in the flexible rate and costs {amount} per person otherwise.",
                    "I've moved your check-in in {destination} to {date}; the rate stays the same and an updated confirmation is on its way to your inbox.",
                ],
                "answers": [[0], [1], [2], [3]],
            },
            {
                "prompts": [
                    "How do I choose a {seat} on flight {flight}?",
                    "My flight {flight} to {destination} was cancelled. What are my options?",
                    "What's the baggage allowance on my flight to {destination}?",
                    "Could you add a {seat} and one checked bag to my booking for flight {flight}, please?",
                    "flight {flight} delayed {hours} hours, can i get compensation",
                ],
                "responses": [
                    "Seats on {flight} can be chosen in Manage booking up to 24 hours before departure, when online check-in opens; a {seat} costs {amount}.",
                    "Since {flight} was cancelled, you can rebook on the next available flight to {destination} at no cost or request a full refund in Manage booking.",
                    "Economy fares on your route include one 23 kg checked bag and a carry-on; extra bags can be added in Manage booking for {amount}.",
                    "Done: a {seat} and one 23 kg checked bag are now on your booking for {flight}, for a total of {amount}.",
                    "Flights delayed by more than 3 hours may qualify for compensation under EU261; if {flight} arrived {hours} hours late, submit a claim in Manage booking with your booking reference.",
                ],
                "answers": [[0], [1], [2], [3], [4]],
            },
        ],
    },
    "cooking_recipes": {
        "slots": {
            "dish": ["lasagna", "chicken curry", "banana bread", "mushroom risotto", "beef stew", "pad thai",
                     "chocolate chip cookies", "vegetable soup", "carbonara", "shakshuka", "pancakes",
                     "lentil dal", "roast chicken", "apple pie", "fried rice", "guacamole"],
            "ingredient": ["eggs", "butter", "heavy cream", "garlic", "onions", "milk", "flour", "sugar",
                           "fresh basil", "parmesan", "coconut milk", "soy sauce", "lemon juice", "white wine"],
            "diet": ["vegan", "gluten-free", "dairy-free", "low-carb", "vegetarian", "nut-free"],
        },
        "intents": [
            {
                "prompts": [
                    "Give me an easy recipe for {dish} for {servings} people.",
                    "How do I make {dish} from scratch?",
                    "need a quick {dish} recipe for tonight",
                    "I'm hosting dinner for {servings} friends on {weekday} and want to make {dish}. Can you give me a recipe that I can prepare mostly in advance?",
                    "What's the secret to a really good {dish}?",
                ],
                "responses": [
                    "For {dish} for {servings}, prepare the ingredients first, cook on medium heat and season at the end; the whole thing takes about {minutes} minutes.",
                    "The key to great {dish} is good {ingredient} and patience: don't rush the cooking, and taste and adjust the seasoning before serving.",
                    "{dish} is a great make-ahead dish: cook it the day before, keep it covered in the fridge and reheat gently for about {minutes} minutes before your guests arrive.",
                ],
                "answers": [[0], [0, 1], [0], [2], [1]],
            },
            {
                "prompts": [
                    "What can I use instead of {ingredient} in {dish}?",
                    "I ran out of {ingredient}. Is there a substitute that works for {dish}?",
                    "How can I make {dish} {diet}?",
                    "good substitute for {ingredient} in baking a cake",
                    "My sister is {diet}; which parts of a {dish} recipe do I need to change for her?",
                ],
                "responses": [
                    "You can replace {ingredient} in {dish} with a similar amount of a neutral alternative; the texture changes slightly, but the flavour stays close to the original.",
                    "To make {dish} {diet}, swap the {ingredient} for a {diet} alternative and check the labels on stock and sauces, which often hide unexpected ingredients.",
                    "In baking, you can usually replace {ingredient} with the same amount of a plant-based alternative; expect a slightly denser, moister cake.",
                ],
                "answers": [[0], [0], [1], [2], [1]],
            },
            {
                "prompts": [
                    "How long should I cook {dish} in the oven and at what temperature?",
                    "How long does leftover {dish} keep in the fridge?",
                    "Can I freeze {dish}, and how do I reheat it?",
                    "my {dish} always comes out too dry, what am I doing wrong",
                ],
                "responses": [
                    "Bake {dish} at 180°C (350°F) for about {minutes} minutes, until it's cooked through and golden on top.",
                    "Leftover {dish} keeps for 3-4 days in an airtight container in the fridge, and up to 3 months in the freezer; reheat until it's steaming hot.",
                    "Dry {dish} usually means it cooked too long or too hot; lower the heat, cover it for the first part of cooking and add a little more {ingredient}.",
                ],
                "answers": [[0], [1], [1], [2]],
            },
        ],
    },
    "python_programming": {
        "slots": {
            "exception": ["KeyError", "TypeError: 'NoneType' object is not subscriptable", "IndexError: list index out of range",
                          "ModuleNotFoundError: No module named 'requests'", "UnicodeDecodeError",
                          "RecursionError: maximum recursion depth exceeded", "AttributeError: 'str' object has no attribute 'append'",
                          "ValueError: invalid literal for int() with base 10"],
            "task": ["read a CSV file", "sort a dictionary by value", "remove duplicates from a list",
                     "parse JSON from an API", "reverse a string", "merge two dictionaries",
                     "count words in a text file", "download a file with requests", "run code in parallel",
                     "format a date as a string", "flatten a nested list", "write unit tests"],
            "library": ["pandas", "numpy", "requests", "Flask", "Django", "pytest", "asyncio", "matplotlib", "FastAPI"],
        },
        "intents": [
            {
                "prompts": [
                    "Why am I getting {exception} on line {line} of my script?",
                    "My Python code throws {exception} when I run it. How do I fix it?",
                    "{exception} in python, what does it mean",
                    "I'm new to Python and my program crashes with {exception} whenever I call a function from {library}. I've checked the docs but I'm still confused. What am I missing?",
                ],
                "responses": [
                    "{exception} means Python hit a value it didn't expect at line {line}; print the variables just before that line to see which one is wrong, then handle that case explicitly.",
                    "This {exception} usually comes from passing the wrong type or an empty value into {library}; check what the function returns before you use it, and add a guard for None.",
                    "Read the last line of the traceback first: {exception} tells you what went wrong and the line number above it tells you where, in this case line {line}.",
                ],
                "answers": [[0, 2], [1], [1], [1]],
            },
            {
                "prompts": [
                    "How do I {task} in Python?",
                    "What's the most pythonic way to {task}?",
                    "python: {task}, shortest way?",
                    "Write a function to {task} using {library}.",
                    "Can you show me an example of how to {task}? I'm using Python 3.11 and would like to avoid extra dependencies if possible.",
                ],
                "responses": [
                    "To {task} in Python, use the standard library where you can; a short function with a clear name and a docstring is easier to test than a one-liner.",
                    "Here's an idiomatic way to {task}: wrap it in a small function, use a with-statement for any files, and add a test with pytest to check the edge cases.",
                    "You can {task} with {library}, but the standard library is enough here and avoids an extra dependency.",
                ],
                "answers": [[0, 1], [0, 1], [0, 1], [2], [0, 1]],
            },
            {
                "prompts": [
                    "How do I install {library} in a virtual environment?",
                    "What's the difference between a list and a tuple in Python when using {library}?",
                    "Should I use {library} or write it myself for a small project?",
                    "explain python decorators with a simple example from {library}",
                    "How can I make my Python loop over a million rows faster with {library}?",
                ],
                "responses": [
                    "Create the environment with python -m venv .venv, activate it, then run pip install {library}; packages installed there don't affect your system Python.",
                    "Use {library} if it already solves the problem well: it's tested and maintained. For a loop over many rows, vectorised operations are usually 10-100 times faster than plain Python.",
                    "A list is mutable and a tuple is immutable; use tuples for fixed records and as dictionary keys, and lists for collections that grow or change.",
                    "A decorator is a function that takes a function and returns a wrapped version of it; @functools.lru_cache is a simple example, and {library} uses decorators in the same way.",
                ],
                "answers": [[0], [2], [1], [3], [1]],
            },
        ],
    },
    "fitness": {
        "slots": {
            "exercise": ["squats", "deadlifts", "push-ups", "pull-ups", "bench press", "lunges", "planks",
                         "burpees", "kettlebell swings", "rowing", "cycling", "running intervals"],
            "goal": ["lose weight", "build muscle", "run a half marathon", "improve flexibility",
                     "get stronger", "train for a 10k", "tone up", "improve endurance"],
            "body": ["knees", "lower back", "shoulders", "hamstrings", "calves", "wrists"],
        },
        "intents": [
            {
                "prompts": [
                    "Can you make me a {count}-day workout plan to {goal}?",
                    "I want to {goal}. How many times a week should I train?",
                    "beginner routine to {goal} at home",
                    "I'm {kg} kg, haven't exercised in years and want to {goal} by {month}. Where should I start without getting injured?",
                    "How long does it usually take to {goal} if I work out three times a week?",
                ],
                "responses": [
                    "To {goal}, train {count} days a week: alternate strength sessions with {exercise} and lighter cardio days, and keep one full rest day.",
                    "Start with three sessions of about {minutes} minutes a week and increase the load by no more than 10% per week; consistency matters more than intensity when you want to {goal}.",
                    "Most people see progress after 6-8 weeks of regular training; track your workouts so you can see that you're getting closer to your goal to {goal}.",
                ],
                "answers": [[0], [0, 1], [1], [1], [2]],
            },
            {
                "prompts": [
                    "What's the correct form for {exercise}?",
                    "My {body} hurt after doing {exercise}. Am I doing them wrong?",
                    "how many sets and reps of {exercise} for beginners",
                    "Is it okay to do {exercise} every day, or do my muscles need rest?",
                ],
                "responses": [
                    "For {exercise}, keep your core braced and your back neutral, move slowly through the full range and stop the set before your form breaks down.",
                    "Pain in your {body} after {exercise} often means the load is too heavy or the form is off; reduce the weight, film yourself and rest for a few days if it persists.",
                    "Beginners do well with 3 sets of 8-12 reps of {exercise}, two or three times a week, with at least one rest day in between.",
                ],
                "answers": [[0], [1], [2], [2]],
            },
            {
                "prompts": [
                    "How should I warm up before a {km} km run?",
                    "What pace should I aim for in my first {km} km race?",
                    "stretches for tight {body} after running",
                    "I ran {km} km yesterday and now my {body} feel really stiff. Should I rest today or go for an easy jog?",
                ],
                "responses": [
                    "Warm up with 5-10 minutes of easy jogging followed by leg swings and a few short strides before your {km} km run.",
                    "For your first {km} km race, start slower than you think and aim to finish the second half slightly faster than the first.",
                    "Stiff {body} after a {km} km run are normal; an easy 20-minute jog or walk and some gentle stretching will help more than complete rest.",
                    "For tight {body} after running, hold gentle static stretches for about 30 seconds each and use a foam roller on your rest days.",
                ],
                "answers": [[0], [1], [3], [2]],
            },
        ],
    },
    "personal_finance": {
        "slots": {
            "expense": ["rent", "groceries", "eating out", "subscriptions", "car payments", "childcare",
                        "utilities", "phone bill", "gym membership", "student loan payments"],
            "goal": ["an emergency fund", "a house deposit", "a holiday", "a new car", "retirement",
                     "a wedding", "a new laptop"],
        },
        "intents": [
            {
                "prompts": [
                    "Help me make a monthly budget on an income of {income}.",
                    "How much of my {income} take-home pay should go to {expense}?",
                    "budget for {income} a month, rent is {amount}",
                    "My partner and I earn {income} a month combined and always seem to run out of money before payday. Could you help us set up a simple budget that actually works?",
                    "Is the 50/30/20 rule realistic if I earn {income} a month?",
                ],
                "responses": [
                    "With {income} a month, the 50/30/20 rule gives 50% for needs like {expense}, 30% for wants and 20% for savings; adjust the split if your rent is high.",
                    "Track every expense for a month first; most people find that {expense} and small subscriptions take more of their {income} than they expected.",
                    "Pay yourself first: move a fixed amount to savings the day your {income} arrives, then budget the rest across {expense} and everyday costs.",
                ],
                "answers": [[0, 2], [0], [0, 2], [1, 2], [0]],
            },
            {
                "prompts": [
                    "How can I save for {goal} faster?",
                    "How much should I set aside for {goal} if my monthly expenses are {amount}?",
                    "I want to save for {goal} within {count} years. How much should I put aside each month?",
                    "tips to cut spending on {expense}",
                    "I always overspend on {expense}. Any practical tricks that helped other people?",
                ],
                "responses": [
                    "Open a separate savings account for {goal}, automate a monthly transfer and treat it like a bill; even small amounts add up over {count} years.",
                    "To cut spending on {expense}, set a weekly cash limit, review your bank statement every {weekday} and cancel anything you haven't used in a month.",
                    "A common rule of thumb is to keep 3-6 months of expenses in an emergency fund before saving for {goal}.",
                    "With monthly expenses of {amount}, a common target is three to six months' worth; automate a transfer every payday until you reach it.",
                ],
                "answers": [[0], [3], [0], [1], [1]],
            },
            {
                "prompts": [
                    "Should I pay off my {debt} credit card debt or invest first?",
                    "What's the best way to pay off {debt} of debt at {percent}% interest?",
                    "avalanche or snowball method for {debt} debt",
                    "I have {debt} on two credit cards and a small car loan. Which one should I pay off first, and should I stop saving while I do it?",
                ],
                "responses": [
                    "At {percent}% interest, paying off the {debt} is a guaranteed return, so it usually beats investing; keep a small emergency fund while you do it.",
                    "The avalanche method (highest interest first) saves the most money on {debt} of debt, while the snowball method (smallest balance first) keeps you motivated.",
                ],
                "answers": [[0], [0, 1], [1], [1]],
            },
        ],
    },
    "home_appliances": {
        "slots": {
            "appliance": ["washing machine", "dishwasher", "fridge", "oven", "microwave", "dryer",
                          "coffee machine", "robot vacuum", "air conditioner", "freezer", "induction hob", "boiler"],
            "code": ["E21", "F05", "E4", "H20", "OE", "E15", "F3", "LE"],
            "symptom": ["is making a loud grinding noise", "won't turn on", "is leaking water",
                        "keeps beeping", "doesn't heat up", "smells like burning", "won't drain",
                        "stops halfway through the cycle", "is not cooling properly"],
            "brand": ["Bosch", "Samsung", "LG", "Whirlpool", "Miele", "Electrolux", "Siemens", "Beko"],
        },
        "intents": [
            {
                "prompts": [
                    "My {brand} {appliance} {symptom}. What should I check first?",
                    "{appliance} {symptom}, how do i fix it",
                    "Our {appliance} {symptom} since {weekday}. Is it safe to keep using it?",
                    "Hi, my {brand} {appliance} is only {count} years old but it {symptom}. I've already unplugged it and plugged it back in. What else can I try before calling a technician?",
                ],
                "responses": [
                    "First unplug the {appliance} for a few minutes, then check the filter, the door seal and the hoses; most cases where a {appliance} {symptom} come from a blockage.",
                    "If your {brand} {appliance} {symptom}, stop using it and switch it off at the wall; if a reset and cleaning the filter don't help, book a technician.",
                    "A {appliance} that {symptom} after {count} years is often still under the manufacturer's warranty, so contact {brand} before paying for a repair.",
                ],
                "answers": [[0, 1], [0], [1], [2, 0]],
            },
            {
                "prompts": [
                    "What does error code {code} mean on a {brand} {appliance}?",
                    "My {appliance} shows {code} on the display and won't start.",
                    "{brand} {appliance} showing error {code}, what now",
                    "How do I clear the {code} error on my {appliance}?",
                ],
                "responses": [
                    "On many {brand} models, {code} points to a water supply or drainage fault; check that the hose isn't kinked and clean the drain filter, then restart the {appliance}.",
                    "To clear {code}, switch the {appliance} off at the wall for 10 minutes; if the code comes back, the sensor may need replacing by a technician.",
                ],
                "answers": [[0], [0, 1], [0, 1], [1]],
            },
            {
                "prompts": [
                    "How often should I descale my {appliance}?",
                    "What's the best way to clean the inside of my {appliance}?",
                    "Which {appliance} setting uses the least energy?",
                    "tips to make my {brand} {appliance} last longer",
                    "Is it worth repairing a {count}-year-old {appliance} or should I buy a new one?",
                ],
                "responses": [
                    "Descale the {appliance} every 3 months, or monthly in hard-water areas, using the descaling program in the manual.",
                    "The eco program is the most efficient {appliance} setting: it runs longer but uses less energy and water.",
                    "As a rule, repair a {count}-year-old {appliance} if the repair costs less than half the price of a new one.",
                    "Wipe the inside of the {appliance} with warm water and a little white vinegar, clean the filter and the door seal, and leave the door open to dry.",
                    "To make your {brand} {appliance} last longer, clean the filters every month, don't overload it and have it serviced every couple of years.",
                ],
                "answers": [[0], [3], [1], [4], [2]],
            },
        ],
    },
    # ---- novel topics: never in a baseline -------------------------------------------------
    "crypto_wallets": {
        "novel": True,
        "slots": {
            "coin": ["Bitcoin", "Ethereum", "Solana", "USDT", "Cardano", "Dogecoin", "Polygon"],
            "wallet": ["MetaMask", "Ledger", "Trezor", "Phantom", "Trust Wallet", "Coinbase Wallet"],
            "chain": ["Ethereum mainnet", "Arbitrum", "BNB Chain", "Solana", "Polygon", "Base"],
        },
        "intents": [
            {
                "prompts": [
                    "I sent {coins} {coin} to my {wallet} but it isn't showing up. Did I lose it?",
                    "my {coin} transfer is stuck pending for {hours} hours",
                    "I sent {coin} on {chain} to an exchange address on a different network. Is there any way to recover the tokens?",
                    "Why does my {wallet} balance show zero after the {coin} transaction confirmed on the blockchain explorer?",
                ],
                "responses": [
                    "Check the transaction hash on a {chain} block explorer; if it's confirmed, add the {coin} token contract to {wallet} manually and the balance will appear.",
                    "A pending {coin} transaction usually means the gas fee was too low; you can speed it up or cancel it from {wallet} by resubmitting with a higher fee.",
                    "Tokens sent to an exchange on the wrong network can often be recovered by the exchange's support team for a fee; contact them with the transaction hash and don't send more {coin}.",
                ],
                "answers": [[0], [1], [2], [0]],
            },
            {
                "prompts": [
                    "How do I back up the seed phrase for my {wallet} wallet?",
                    "Someone asked for my {wallet} recovery phrase to verify my account. Is that legit?",
                    "lost my {wallet} seed phrase, can i still get my {coin}",
                    "Is a hardware wallet like {wallet} safer than keeping {coin} on an exchange?",
                ],
                "responses": [
                    "Write the 12 or 24 words of your {wallet} seed phrase on paper, store them offline in two safe places and never type them into a website or share them.",
                    "Nobody legitimate will ever ask for your {wallet} recovery phrase; anyone who does is trying to steal your {coin}, so don't share it.",
                    "Without the seed phrase, {coin} in {wallet} can only be saved while the wallet is still unlocked on one of your devices; move the funds to a new wallet right away.",
                    "A hardware wallet like {wallet} keeps your private keys offline, which protects your {coin} from exchange hacks, but you alone are responsible for the backup.",
                ],
                "answers": [[0], [1], [2], [3]],
            },
            {
                "prompts": [
                    "Why are gas fees so high on {chain} right now?",
                    "How do I bridge {coin} from {chain} to another network cheaply?",
                    "staking {coin} in {wallet}, is it worth it",
                    "What's the difference between a custodial exchange wallet and a self-custody wallet like {wallet} for holding {coin}?",
                ],
                "responses": [
                    "Gas fees on {chain} rise when the network is congested; sending your {coin} at off-peak hours or using a layer-2 network is usually much cheaper.",
                    "Staking {coin} through {wallet} earns a yield of a few percent a year, but your coins may be locked for a period and validator penalties can apply.",
                    "To bridge {coin} from {chain} cheaply, use the official bridge or a reputable aggregator and send a small test amount first.",
                    "On an exchange, the company holds your keys; with a self-custody wallet like {wallet}, only you control your {coin}, so guard the seed phrase carefully.",
                ],
                "answers": [[0], [2], [1], [3]],
            },
        ],
    },
    "medical_symptoms": {
        "novel": True,
        "slots": {
            "symptom": ["a sore throat", "a persistent cough", "a headache behind the eyes", "chest tightness",
                        "a rash on my arm", "a fever of 38.5", "dizziness when standing up", "stomach cramps",
                        "swollen ankles", "ringing in my ears"],
            "medication": ["ibuprofen", "paracetamol", "antihistamines", "amoxicillin", "my blood pressure pills",
                           "aspirin", "an inhaler"],
            "relative": ["son", "daughter", "mother", "husband", "grandfather", "wife", "father", "toddler"],
        },
        "intents": [
            {
                "prompts": [
                    "I've had {symptom} for {days} days. Should I see a doctor?",
                    "My {relative} has {symptom} and won't eat. Is this serious?",
                    "{symptom} since {weekday}, what could it be",
                    "I woke up with {symptom} and some nausea. I'm not sure whether to go to urgent care or wait and see.",
                ],
                "responses": [
                    "{symptom} lasting more than {days} days should be checked by a doctor, and go to urgent care straight away if it gets worse or you have trouble breathing.",
                    "I can't diagnose {symptom}, but if your {relative} also has a high fever, confusion or can't keep fluids down, please contact a doctor or emergency services today.",
                ],
                "answers": [[0], [1], [0], [0]],
            },
            {
                "prompts": [
                    "Can I take {medication} together with alcohol?",
                    "Is it safe to give {medication} to my {relative} for {symptom}?",
                    "what's the max dose of {medication} per day",
                    "I forgot to take {medication} this morning. Should I take a double dose tonight?",
                ],
                "responses": [
                    "Don't double up on {medication}; take the next dose at the usual time and check the leaflet or ask a pharmacist about the maximum daily dose.",
                    "Before giving {medication} to your {relative}, check with a pharmacist, especially if they take other medicines or have kidney or stomach problems.",
                    "Mixing {medication} with alcohol can make side effects worse, so it's best to avoid drinking while you take it; a pharmacist can advise on your situation.",
                ],
                "answers": [[2], [1], [0], [0]],
            },
            {
                "prompts": [
                    "How can I tell if {symptom} is an allergy or an infection?",
                    "What blood tests should I ask my GP for if I have {symptom}?",
                    "my {relative} gets {symptom} after every meal, could it be a food intolerance",
                ],
                "responses": [
                    "Allergies often come with itching and sneezing and no fever, while infections tend to bring a fever and body aches; a doctor can confirm it if {symptom} persists.",
                    "Keep a diary of meals and symptoms for two weeks and take it to your GP, who can decide on tests for {symptom}.",
                ],
                "answers": [[0], [1], [1]],
            },
        ],
    },
    "legal_tenancy": {
        "novel": True,
        "slots": {
            "issue": ["won't return the deposit", "wants to raise the rent by 20%", "entered the flat without notice",
                      "refuses to fix the mould", "has served an eviction notice", "kept part of the deposit for cleaning",
                      "hasn't repaired the broken heating"],
            "clause": ["break clause", "non-compete clause", "indemnity clause", "termination clause",
                       "automatic renewal clause", "liquidated damages clause"],
            "contract": ["tenancy agreement", "employment contract", "freelance contract", "lease",
                         "non-disclosure agreement", "sublet agreement"],
        },
        "intents": [
            {
                "prompts": [
                    "My landlord {issue}. What are my rights as a tenant?",
                    "landlord {issue}, can they do that legally",
                    "What can I do if my landlord {issue} and ignores my emails?",
                    "I've rented my flat in {city} for {count} years and now the landlord {issue}. Do I need a solicitor or can I handle this myself?",
                ],
                "responses": [
                    "If your landlord {issue}, put your complaint in writing and keep copies; tenancy law in {city} sets notice periods and deposit protection rules they must follow.",
                    "You can usually raise a dispute with the deposit protection scheme or a housing tribunal for free; a solicitor is only needed if your landlord {issue} and takes it to court.",
                ],
                "answers": [[0, 1], [0], [0], [1]],
            },
            {
                "prompts": [
                    "What does the {clause} in my {contract} mean?",
                    "Is a {clause} in a {contract} legally enforceable?",
                    "Can you review this {clause} from my {contract} before I sign it?",
                    "explain {clause} in plain english",
                ],
                "responses": [
                    "A {clause} sets out what happens if one party ends or breaches the {contract}; whether it's enforceable depends on the wording and local law, so have a lawyer check it.",
                    "Courts often refuse to enforce a {clause} that is unreasonably broad, so ask for it to be narrowed before you sign the {contract}.",
                ],
                "answers": [[0], [0, 1], [1], [0]],
            },
            {
                "prompts": [
                    "How much notice do I have to give to end my {contract}?",
                    "Can I break my {contract} early without paying a penalty?",
                    "Do I need a witness to sign my {contract}, or is an electronic signature legally valid?",
                ],
                "responses": [
                    "Check the notice and termination terms in your {contract}; if there's no {clause}, the statutory minimum notice period applies.",
                    "Electronic signatures are legally valid for most {contract} documents, although some deeds still require a witness.",
                    "You can usually end a {contract} early without a penalty only if it contains a break clause or the other side agrees; otherwise you may owe the rest of the term.",
                ],
                "answers": [[0], [2], [1]],
            },
        ],
    },
    "gardening": {
        "novel": True,
        "slots": {
            "plant": ["tomato plants", "roses", "basil", "monstera", "succulents", "lavender", "orchid",
                      "hydrangeas", "fiddle leaf fig", "strawberries", "peace lily", "cucumbers"],
            "pest": ["aphids", "slugs", "spider mites", "whiteflies", "fungus gnats", "powdery mildew"],
            "soil": ["clay soil", "sandy soil", "potting mix", "compost", "chalky soil"],
        },
        "intents": [
            {
                "prompts": [
                    "Why are the leaves on my {plant} turning yellow?",
                    "My {plant} are wilting even though I water them every day. What's wrong?",
                    "{plant} drooping and brown tips, help",
                    "I repotted my {plant} into fresh {soil} last month and since then the leaves keep dropping. Did I do something wrong?",
                ],
                "responses": [
                    "Yellow leaves on {plant} usually mean overwatering; let the top few centimetres of {soil} dry out between waterings and make sure the pot drains.",
                    "Wilting despite daily watering is a classic sign of root rot; take the {plant} out of the pot, trim any mushy roots and replant in fresh, well-draining {soil}.",
                ],
                "answers": [[0], [1], [0, 1], [1]],
            },
            {
                "prompts": [
                    "How do I get rid of {pest} on my {plant} without chemicals?",
                    "There are {pest} all over my {plant}. Will they kill it?",
                    "any natural remedy for {pest} on {plant}",
                ],
                "responses": [
                    "Spray {pest} off your {plant} with a strong jet of water, then treat the leaves with diluted neem oil or insecticidal soap once a week.",
                    "{pest} rarely kill healthy {plant}, but remove badly affected leaves and encourage ladybirds and other predators in the garden.",
                ],
                "answers": [[0], [1], [0]],
            },
            {
                "prompts": [
                    "When is the best time to plant {plant} in {soil}?",
                    "How often should I fertilise {plant} in {month}?",
                    "Can I grow {plant} on a north-facing balcony?",
                    "prune {plant} in autumn or spring",
                ],
                "responses": [
                    "Plant {plant} in spring after the last frost, and mix compost into {soil} to improve drainage and nutrients.",
                    "Feed {plant} every two weeks during the growing season with a balanced liquid fertiliser, and stop feeding in winter.",
                    "On a north-facing balcony, {plant} will grow more slowly; pick the brightest corner and water less often than you would in full sun.",
                    "Prune {plant} in early spring, just as new growth starts, and remove dead or crossing stems at any time of year.",
                ],
                "answers": [[0], [1], [2], [3]],
            },
        ],
    },
    "video_games": {
        "novel": True,
        "slots": {
            "game": ["Elden Ring", "Zelda: Tears of the Kingdom", "Baldur's Gate 3", "Minecraft", "Hollow Knight",
                     "Stardew Valley", "Dark Souls 3", "Civilization VI", "Fortnite", "League of Legends"],
            "boss": ["Malenia", "the final boss", "the dragon", "the twin bosses", "the Nameless King",
                     "the first raid boss", "the Radiant Knight"],
            "build": ["strength build", "mage build", "stealth build", "tank build", "bleed build", "speedrun route"],
        },
        "intents": [
            {
                "prompts": [
                    "How do I beat {boss} in {game}? I've died {count} times.",
                    "Any tips for {boss} in {game} at level {level}?",
                    "is there a cheese strategy for {boss} in {game}",
                    "I've been stuck on {boss} in {game} for a whole weekend with a {build}. Should I grind more levels or change my approach?",
                ],
                "responses": [
                    "Against {boss} in {game}, stay close, dodge into the attacks rather than away, and punish only after the long combo; at level {level} it's doable with upgraded gear.",
                    "Many players beat {boss} by summoning help and switching to a {build}; learn the first phase patterns before worrying about the second.",
                ],
                "answers": [[0, 1], [0, 1], [0, 1], [0, 1]],
            },
            {
                "prompts": [
                    "What's the best {build} for a new player in {game}?",
                    "Which weapons should I use for a {build} in {game}?",
                    "is a {build} still viable in {game} after the latest patch",
                ],
                "responses": [
                    "A {build} is great for beginners in {game}: invest in vitality first, then your main damage stat, and upgrade one good weapon instead of many.",
                    "After the latest patch the {build} in {game} got slightly weaker but is still viable for story content and co-op.",
                ],
                "answers": [[0], [0], [1]],
            },
            {
                "prompts": [
                    "Where do I find the hidden area in {game}?",
                    "How do I farm gold quickly in {game}?",
                    "{game} keeps crashing on startup after the update, any fix?",
                    "What's a good order to do the side quests in {game} so I don't lock myself out of anything?",
                ],
                "responses": [
                    "The fastest gold farm in {game} is repeating the early area with an item-find bonus; expect a few thousand per run.",
                    "If {game} crashes after an update, verify the game files in your launcher and update your graphics drivers.",
                    "The hidden area in {game} is behind an illusory wall near the second checkpoint; hit or roll into the wall to reveal it.",
                    "In {game}, finish the side quests in each area before advancing the main story, because some characters leave after major bosses.",
                ],
                "answers": [[2], [0], [1], [3]],
            },
        ],
    },
    "pet_care": {
        "novel": True,
        "slots": {
            "pet": ["puppy", "kitten", "golden retriever", "rabbit", "parrot", "hamster", "senior cat",
                    "border collie", "guinea pig", "rescue dog"],
            "behaviour": ["keeps scratching the furniture", "barks at night", "won't use the litter box",
                          "bites when I pet it", "pulls on the leash", "chews everything", "is scared of visitors"],
            "food": ["grapes", "chocolate", "raw chicken", "onions", "peanut butter", "cheese", "tuna"],
        },
        "intents": [
            {
                "prompts": [
                    "My {pet} {behaviour}. How do I train it to stop?",
                    "my {pet} {behaviour}, any tips",
                    "We adopted a {age}-year-old {pet} last month and it {behaviour}. Is that normal, and how can we help it settle in?",
                ],
                "responses": [
                    "A {pet} that {behaviour} usually needs more exercise and a clear routine; reward the behaviour you want immediately and ignore the rest.",
                    "It's common for a newly adopted {pet} to behave like this for a few weeks; give it a quiet space and keep training sessions short and positive.",
                ],
                "answers": [[0], [0], [1]],
            },
            {
                "prompts": [
                    "Is it safe for my {pet} to eat {food}?",
                    "My {pet} just ate {food}. Should I call the vet?",
                    "is {food} ok for a {pet} to eat",
                ],
                "responses": [
                    "Some foods like {food} can be harmful to a {pet}; call your vet or a pet poison hotline right away and tell them how much was eaten.",
                    "Only give {food} to your {pet} in small amounts, if at all, and ask your vet about a balanced diet.",
                ],
                "answers": [[1, 0], [0], [1]],
            },
            {
                "prompts": [
                    "How often should I take my {pet} to the vet for vaccinations?",
                    "How much should I feed a {age}-year-old {pet} per day?",
                    "best way to trim my {pet}'s nails without stressing it out",
                ],
                "responses": [
                    "Most vets recommend a yearly check-up and booster vaccinations for a {pet}, and twice a year for older animals.",
                    "Feeding amounts for a {pet} depend on weight and activity; start with the guide on the food package and adjust so you can still feel the ribs.",
                    "Trim your {pet}'s nails a little at a time with sharp clippers, reward it with treats and stop before it gets stressed.",
                ],
                "answers": [[0], [1], [2]],
            },
        ],
    },
}

BASE_TOPICS: tuple[str, ...] = tuple(t for t, spec in TOPICS.items() if not spec.get("novel"))
NOVEL_TOPICS: tuple[str, ...] = tuple(t for t, spec in TOPICS.items() if spec.get("novel"))

# -- prompt styling ------------------------------------------------------------------------
_OPENERS = ["Hi!", "Hello.", "Hi there.", "Hey,", "Good morning.", "Hello team,", "Quick question:",
            "Sorry to bother you.", "Hi, hope you're well.", "Hey there!"]
_CLOSERS = ["Thanks!", "Thank you.", "Thanks in advance.", "Any help would be appreciated.", "Please help.",
            "Cheers.", "Many thanks!", "Appreciate it.", "Thanks so much for your help."]
_P_OPENER, _P_CLOSER, _P_TERSE = 0.3, 0.3, 0.12

# -- degraded responses (concept drift of answer quality) ---------------------------------
_EVASIVE = [
    "I'm sorry, but I can't help with that request.",
    "That's a great question! There are many factors to consider, and it really depends on your situation.",
    "I'm not able to provide information about that. Is there anything else I can help you with?",
    "Please contact our support team for more details.",
    "I don't have enough information to answer that right now.",
    "As an AI assistant, I can't give advice on this topic.",
    "It depends. You may want to look into it further.",
    "Let me know if you have any other questions!",
]
DEGRADATIONS = ("off_topic", "evasive", "truncated", "wrong")

_FORMATTER = string.Formatter()


def _fields(template: str) -> list[str]:
    return [f for _, f, _, _ in _FORMATTER.parse(template) if f]


def _validate_tables() -> None:
    """Every slot a template uses must have a filler (checked once, at import)."""
    for topic, spec in TOPICS.items():
        known = set(spec.get("slots", {})) | set(COMMON_SLOTS) | set(GENERATORS)
        if not spec.get("intents"):
            raise RuntimeError(f"topic {topic!r} has no intents")
        for intent in spec["intents"]:
            answers = intent.get("answers")
            if answers is not None and (
                len(answers) != len(intent["prompts"])
                or not all(a and all(0 <= j < len(intent["responses"]) for j in a) for a in answers)
            ):
                raise RuntimeError(f"topic {topic!r}: 'answers' must list valid response indices for every prompt")
            for template in intent["prompts"] + intent["responses"]:
                missing = set(_fields(template)) - known
                if missing:
                    raise RuntimeError(f"topic {topic!r}: no filler for {sorted(missing)} in {template!r}")


_validate_tables()


def _slot_value(topic: str, slot: str, rng: random.Random) -> str:
    own = TOPICS[topic].get("slots", {})
    if slot in own:
        return rng.choice(own[slot])
    if slot in COMMON_SLOTS:
        return rng.choice(COMMON_SLOTS[slot])
    return GENERATORS[slot](rng)


def _fill(template: str, values: dict[str, str]) -> str:
    """Fill the slots; a template that starts with a slot gets a capital first letter."""
    text = template.format(**values)
    if template.startswith("{") and text:
        text = text[0].upper() + text[1:]
    return text


def _style_prompt(text: str, rng: random.Random) -> str:
    """Greeting / sign-off for some prompts, a terse lower-case variant for others."""
    opener = rng.choice(_OPENERS) if rng.random() < _P_OPENER else ""
    closer = rng.choice(_CLOSERS) if rng.random() < _P_CLOSER else ""
    terse = rng.random() < _P_TERSE
    if terse:
        text = text.rstrip("?.!")
        return text[0].lower() + text[1:] if text[1:2].islower() else text
    n_words = len(text.split())
    if closer and n_words + len(closer.split()) > MAX_PROMPT_WORDS:
        closer = ""
    n_words += len(closer.split())
    if opener and n_words + len(opener.split()) > MAX_PROMPT_WORDS:
        opener = ""
    if opener.endswith(",") and text[1:2].islower():
        text = text[0].lower() + text[1:]
    if closer and text[-1] not in ".?!":
        text += "."
    return " ".join(part for part in (opener, text, closer) if part)


def _render(topic: str, rng: random.Random) -> tuple[str, str, int, dict[str, str]]:
    """(prompt, response, intent index, slot values) for one sample of ``topic``."""
    intents = TOPICS[topic]["intents"]
    k = rng.randrange(len(intents))
    intent = intents[k]
    i = rng.randrange(len(intent["prompts"]))
    prompt_t = intent["prompts"][i]
    answers = intent.get("answers")
    response_t = intent["responses"][rng.choice(answers[i])] if answers else rng.choice(intent["responses"])
    values = {f: _slot_value(topic, f, rng) for f in dict.fromkeys(_fields(prompt_t) + _fields(response_t))}
    return _style_prompt(_fill(prompt_t, values), rng), _fill(response_t, values), k, values


def _degrade(topic: str, intent: int, response: str, values: dict[str, str], rng: random.Random) -> str:
    kind = rng.choice(DEGRADATIONS)
    if kind == "off_topic":
        other = rng.choice([t for t in BASE_TOPICS + NOVEL_TOPICS if t != topic])
        return _render(other, rng)[1]
    if kind == "evasive":
        return rng.choice(_EVASIVE)
    if kind == "truncated":
        words = response.split()
        keep = max(2, int(len(words) * rng.uniform(0.25, 0.6)))
        return " ".join(words[:keep]).rstrip(",;:")
    # wrong: a confident answer to another of the topic's questions
    intents = TOPICS[topic]["intents"]
    others = [i for i in range(len(intents)) if i != intent]
    if not others:  # pragma: no cover - every built-in topic has several intents
        return rng.choice(_EVASIVE)
    template = rng.choice(intents[rng.choice(others)]["responses"])
    filled = {f: values.get(f) or _slot_value(topic, f, rng) for f in _fields(template)}
    return _fill(template, filled)


def topic_weights(topics: Sequence[str]) -> dict[str, float]:
    """Mildly unequal topic weights in [0.7, 1.3], fixed per topic name (not per seed).

    They do not depend on ``generate``'s seed, so two windows generated with different
    seeds from the same topics share one topic distribution (a healthy window is healthy).
    """
    return {t: 0.7 + 0.6 * (zlib.crc32(t.encode()) % 1000) / 999 for t in topics}


def _parse_start(start: str | datetime) -> datetime:
    if isinstance(start, datetime):
        dt = start
    else:
        try:
            dt = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"start must be an ISO 8601 timestamp such as '2026-01-01T00:00:00Z', got {start!r}") from None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _iso(dt: datetime) -> str:
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    return text + "Z"


def _check_topics(names: Sequence[str] | None, default: tuple[str, ...], arg: str) -> tuple[str, ...]:
    if names is None:
        return default
    if isinstance(names, str):
        names = [names]
    names = tuple(dict.fromkeys(names))
    if not names:
        raise ValueError(f"{arg} must name at least one topic; available: {', '.join(TOPICS)}")
    unknown = [t for t in names if t not in TOPICS]
    if unknown:
        raise ValueError(f"unknown topic(s) in {arg}: {', '.join(map(repr, unknown))}; available: {', '.join(TOPICS)}")
    return names


def _check_share(value: float, arg: str) -> float:
    try:
        share = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{arg} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"{arg} must be in [0, 1], got {value!r}")
    return share


def generate(
    n: int,
    *,
    seed: int = 0,
    topics: Sequence[str] | None = None,
    novel_share: float = 0.0,
    novel_topics: Sequence[str] | None = None,
    degraded_share: float = 0.0,
    start: str | datetime = "2026-01-01T00:00:00Z",
    interval_seconds: float = 60.0,
) -> list[Sample]:
    """``n`` samples of assistant traffic, deterministic for a given ``seed``.

    Exactly ``round(n * novel_share)`` samples come from ``novel_topics`` (default
    :data:`NOVEL_TOPICS`, ``novel=True``), the rest from ``topics`` (default
    :data:`BASE_TOPICS`) with the mildly unequal weights of :func:`topic_weights`; the
    order is shuffled. Exactly ``round(n * degraded_share)`` responses, chosen at random,
    are degraded (off-topic, evasive, truncated or wrong). Prompts, topics and the
    non-degraded responses do not depend on ``degraded_share``: the same seed with and
    without degradation differs only in the degraded responses. Timestamps start at
    ``start`` and increase by ``interval_seconds``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    novel_share = _check_share(novel_share, "novel_share")
    degraded_share = _check_share(degraded_share, "degraded_share")
    base = _check_topics(topics, BASE_TOPICS, "topics")
    novel_pool = _check_topics(novel_topics, NOVEL_TOPICS, "novel_topics")
    try:
        step = float(interval_seconds)
    except (TypeError, ValueError):
        raise ValueError(f"interval_seconds must be a number, got {interval_seconds!r}") from None
    if step < 0:
        raise ValueError(f"interval_seconds must be >= 0, got {interval_seconds!r}")
    t0 = _parse_start(start)

    # Independent streams, so that e.g. degraded_share changes nothing but responses.
    topic_rng, text_rng, degrade_rng = (random.Random(f"drift-tracking:{seed}:{part}") for part in ("topic", "text", "degrade"))
    n_novel = int(round(n * novel_share))
    weights = topic_weights(base)
    drawn = topic_rng.choices(base, weights=[weights[t] for t in base], k=n - n_novel)
    drawn = [(t, False) for t in drawn] + [(topic_rng.choice(novel_pool), True) for _ in range(n_novel)]
    topic_rng.shuffle(drawn)
    n_degraded = int(round(n * degraded_share))
    degraded = set(degrade_rng.sample(range(n), n_degraded))

    out: list[Sample] = []
    for i, (topic, is_novel) in enumerate(drawn):
        prompt, response, intent, values = _render(topic, text_rng)
        if i in degraded:
            response = _degrade(topic, intent, response, values, degrade_rng)
        out.append(
            Sample(
                id=f"req-{seed}-{i:06d}",
                prompt=prompt,
                response=response,
                topic=topic,
                novel=is_novel,
                timestamp=_iso(t0 + timedelta(seconds=i * step)),
            )
        )
    return out


# -- export ---------------------------------------------------------------------------------
COLUMNS = ("id", "prompt", "response", "topic", "novel", "timestamp")


def to_records(samples: Iterable[Sample]) -> list[dict[str, Any]]:
    """Plain dicts with the keys of :data:`COLUMNS`."""
    return [asdict(s) for s in samples]


def to_frame(samples: Iterable[Sample]):  # -> pandas.DataFrame
    """A DataFrame with columns id, prompt, response, topic, novel, timestamp."""
    import pandas as pd

    return pd.DataFrame(to_records(samples), columns=list(COLUMNS))


def write(samples: Iterable[Sample] | Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Write samples (or record dicts) to ``.jsonl``/``.ndjson``, ``.json``, ``.csv`` or ``.parquet``."""
    path = Path(path)
    records = [asdict(s) if isinstance(s, Sample) else dict(s) for s in samples]
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".json", ".csv", ".parquet"):
        raise ValueError(f"cannot write {path}: unsupported extension {suffix!r}; use .jsonl, .ndjson, .json, .csv or .parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in (".jsonl", ".ndjson"):
        with path.open("w", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    elif suffix == ".json":
        path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    elif suffix == ".csv":
        fields = list(dict.fromkeys(k for r in records for k in r)) or list(COLUMNS)
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            for record in records:  # nested values (chat messages) as JSON text
                writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                                 for k, v in record.items()})
    else:
        import pandas as pd

        pd.DataFrame(records).to_parquet(path, index=False)
    return path


# -- golden set ------------------------------------------------------------------------------
# Fixed question -> short factual answer pairs. Company policies match the responses above.
_GOLDEN_FIXED: list[tuple[str, str, str]] = [
    ("refunds_returns", "How many days do I have to return an item?", "30 days"),
    ("refunds_returns", "How long does it take for a refund to show up on my card?", "5-7 business days"),
    ("refunds_returns", "What is the restocking fee for opened electronics?", "15%"),
    ("refunds_returns", "How much bonus do I get if I take store credit instead of a refund?", "10%"),
    ("shipping_delivery", "How long does standard shipping take?", "3-5 business days"),
    ("shipping_delivery", "What is the minimum order value for free shipping?", "$50"),
    ("shipping_delivery", "How much does express shipping cost?", "$14.99"),
    ("shipping_delivery", "How long does express delivery take?", "1-2 business days"),
    ("account_password", "How long is a password reset link valid?", "24 hours"),
    ("account_password", "What is the minimum password length?", "12 characters"),
    ("account_password", "How many failed login attempts lock an account?", "5 attempts"),
    ("account_password", "How long is the grace period after I request account deletion?", "14 days"),
    ("billing", "How much do I save with annual billing compared with monthly?", "20%"),
    ("billing", "How long does it take to reverse a duplicate charge?", "5-7 business days"),
    ("billing", "Where in the app can I download my invoices?", "Account > Billing > Invoices"),
    ("travel_booking", "What is the checked baggage allowance on economy fares?", "23 kg"),
    ("travel_booking", "How many hours before departure does online check-in open?", "24 hours"),
    ("travel_booking", "Up to how many hours before check-in can I cancel a hotel for free?", "48 hours"),
    ("travel_booking", "What is the IATA airport code of London Heathrow?", "LHR"),
    ("travel_booking", "What is the IATA airport code of Paris Charles de Gaulle?", "CDG"),
    ("travel_booking", "What is the IATA airport code of Frankfurt Airport?", "FRA"),
    ("travel_booking", "What is the IATA airport code of Amsterdam Schiphol?", "AMS"),
    ("cooking_recipes", "At what temperature in Celsius does water boil at sea level?", "100°C"),
    ("cooking_recipes", "How many tablespoons are in one cup?", "16"),
    ("cooking_recipes", "What is the main ingredient of guacamole?", "avocado"),
    ("cooking_recipes", "What is the safe internal temperature for cooked chicken in Fahrenheit?", "165°F"),
    ("cooking_recipes", "Which variety of rice is classically used for risotto?", "Arborio"),
    ("python_programming", "Which keyword defines a function in Python?", "def"),
    ("python_programming", "Which exception does Python raise when a dictionary key is missing?", "KeyError"),
    ("python_programming", "Which list method adds an item to the end of a list?", "append"),
    ("python_programming", "Which built-in function returns the number of items in a list?", "len"),
    ("python_programming", "Which command creates a virtual environment in the folder .venv?", "python -m venv .venv"),
    ("fitness", "How many minutes of moderate aerobic activity per week does the WHO recommend for adults?", "150 minutes"),
    ("fitness", "How many calories are in one gram of fat?", "9 calories"),
    ("fitness", "How long is a marathon in kilometres?", "42.195 km"),
    ("fitness", "How many reps per set are recommended for beginners?", "8-12 reps"),
    ("personal_finance", "Under the 50/30/20 rule, what share of income goes to savings?", "20%"),
    ("personal_finance", "How many months of expenses should an emergency fund cover?", "3-6 months"),
    ("personal_finance", "Which debt payoff method pays the highest interest rate first?", "avalanche"),
    ("home_appliances", "How often should a coffee machine be descaled?", "every 3 months"),
    ("home_appliances", "Which program is the most energy-efficient setting on a dishwasher?", "eco"),
    ("home_appliances", "What temperature should a fridge be set to in Celsius?", "4°C"),
    ("home_appliances", "How long should an appliance stay unplugged to clear an error code?", "10 minutes"),
]


def _golden_generated(rng: random.Random) -> tuple[str, str, str]:
    """One parameterised question with a computed answer."""
    kind = rng.randrange(6)
    if kind == 0:
        items = [rng.randint(0, 99) for _ in range(rng.randint(2, 9))]
        return ("python_programming", f"What does len({items}) return in Python?", str(len(items)))
    if kind == 1:
        a, b = rng.randint(10, 999), rng.randint(2, 9)
        return ("python_programming", f"What is the result of {a} // {b} in Python?", str(a // b))
    if kind == 2:
        cups = rng.randint(2, 12)
        return ("cooking_recipes", f"How many tablespoons are in {cups} cups?", str(16 * cups))
    if kind == 3:
        income = rng.randint(20, 120) * 100
        return ("personal_finance", f"Under the 50/30/20 rule, how much of a ${income:,} monthly income goes to needs?",
                f"${income // 2:,}")
    if kind == 4:
        principal, rate = rng.randint(1, 50) * 1000, rng.randint(2, 9)
        return ("personal_finance", f"How much interest does ${principal:,} earn in one year at {rate}% simple interest?",
                f"${principal * rate // 100:,}")
    km, minutes = rng.choice([5, 10]), rng.randint(20, 70)
    if (minutes * 60) % km:
        minutes = km * (minutes // km or 1)
    pace = minutes * 60 // km
    return ("fitness", f"If I run {km} km in {minutes} minutes, what is my average pace per km?",
            f"{pace // 60}:{pace % 60:02d}")


def golden_set(n: int = 50, *, seed: int = 0) -> list[dict[str, str]]:
    """``n`` prompt / expected-answer pairs over the base topics.

    Each item is ``{"id", "topic", "prompt", "expected"}`` with a short factual
    ``expected`` answer (e.g. "How many days do I have to return an item?" -> "30 days").
    The fixed questions come first, interleaved by topic so any ``n >= 10`` covers every
    base topic; beyond them, parameterised questions with computed answers are added.
    Prompts are unique. ``seed`` shuffles the order within each topic and the generated
    questions.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    rng = random.Random(f"drift-tracking:golden:{seed}")
    by_topic: dict[str, list[tuple[str, str, str]]] = {t: [] for t in BASE_TOPICS}
    for item in _GOLDEN_FIXED:
        by_topic[item[0]].append(item)
    for items in by_topic.values():
        rng.shuffle(items)
    pool: list[tuple[str, str, str]] = []
    for depth in range(max(len(v) for v in by_topic.values())):
        pool += [items[depth] for items in by_topic.values() if depth < len(items)]
    seen = {p for _, p, _ in pool}
    attempts = 0
    while len(pool) < n:
        attempts += 1
        if attempts > 100 * n + 10_000:  # pragma: no cover - the generators have ample variety
            raise ValueError(f"cannot make {n} distinct golden questions")
        item = _golden_generated(rng)
        if item[1] not in seen:
            seen.add(item[1])
            pool.append(item)
    return [
        {"id": f"golden-{i:04d}", "topic": topic, "prompt": prompt, "expected": expected}
        for i, (topic, prompt, expected) in enumerate(pool[:n])
    ]


_CORRECT_FORMS = ["{a}", "{a}.", "The answer is {a}.", "It's {a}.", "{A}", "{l}", "Sure! That would be {a}.",
                  "According to our policy, {a}.", "{a}, as far as I know."]
_WRONG_FORMS = ["{w}", "{w}.", "The answer is {w}.", "It's {w}.", "I believe it's {w}.", "I'm not sure, maybe {w}?"]
_WRONG_WORDS = ["two weeks", "never", "it depends", "whenever you like", "lambda", "ValueError", "insert",
                "brown rice", "tomato", "snowball", "turbo", "MAD", "XYZ", "quick wash", "Settings > Profile"]


def _wrong_answer(expected: str, others: Sequence[str], rng: random.Random) -> str:
    bad = expected.lower()
    for _ in range(50):
        if re.search(r"\d", expected) and rng.random() < 0.7:
            candidate = re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(1, 9) * rng.choice([1, 2, 3])), expected)
        else:
            candidate = rng.choice(list(others) + _WRONG_WORDS)
        if candidate and bad not in candidate.lower() and candidate.lower() not in bad:
            return candidate
    return "I don't know"  # pragma: no cover


def answer_golden(golden: Sequence[dict[str, Any]], *, accuracy: float = 1.0, seed: int = 0) -> list[str]:
    """Simulated model answers to ``golden``: exactly ``round(len * accuracy)`` correct.

    A correct answer contains the expected answer verbatim or in another casing, alone or
    inside a short sentence ("It's 30 days."). A wrong one never contains it (compared
    case-insensitively), e.g. another number or another item's answer.
    """
    accuracy = _check_share(accuracy, "accuracy")
    items = list(golden)
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("expected"), str) or not item["expected"].strip():
            raise ValueError(f"golden item {i} has no 'expected' text answer: {item!r}")
    rng = random.Random(f"drift-tracking:answers:{seed}")
    n_correct = int(round(len(items) * accuracy))
    correct = set(rng.sample(range(len(items)), n_correct))
    expecteds = [item["expected"] for item in items]
    answers = []
    for i, expected in enumerate(expecteds):
        if i in correct:
            form = rng.choice(_CORRECT_FORMS)
            answers.append(form.format(a=expected, A=expected.upper(), l=expected.lower()))
        else:
            wrong = _wrong_answer(expected, expecteds, rng)
            answers.append(rng.choice(_WRONG_FORMS).format(w=wrong))
    return answers
