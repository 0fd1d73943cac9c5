"""Word lists of the local analyzer: stop words, a compact sentiment lexicon with
negators and intensifiers, and outcome cue phrases. English only; hand-written for
call-center and meeting speech (scores on a -3..+3 scale, VADER-like)."""

from __future__ import annotations

STOPWORDS: frozenset[str] = frozenset(
    """
a about above after again against all am an and any are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does
doesn't doing don't down during each few for from further had hadn't has hasn't have
haven't having he he'd he'll he's her here here's hers herself him himself his how how's
i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my
myself no nor not of off on once only or other ought our ours ourselves out over own same
shan't she she'd she'll she's should shouldn't so some such than that that's the their
theirs them themselves then there there's these they they'd they'll they're they've this
those through to too under until up very was wasn't we we'd we'll we're we've were weren't
what what's when when's where where's which while who who's whom why why's will with won't
would wouldn't you you'd you'll you're you've your yours yourself yourselves
yes yeah yep ok okay oh uh um uhm hmm mm mhm hm ah er erm like just well right so really
also actually gonna wanna gotta got get go going know think mean thing things sure hi hello
hey thanks thank please bye goodbye alright great good fine let us one two three also may
might must shall would could can will need want see say said tell told ask asked much many
lot lots bit kind sort way now today anything something everything nothing else still even
im ive id ill dont cant wont didnt doesnt isnt thats whats theres youre theyre
vocalsound disfmarker nonvocalsound gap laugh
""".split()
)

# words too generic (or too personal) to be a tag of a call
TAG_STOPWORDS: frozenset[str] = frozenset(
    """
help name email username give put make look use day days time let take come went guys people
stuff call calling called number address phone moment second minute wait hold speak talk
person thing try tried question first last full please thank thanks today yesterday told
able sure course mean happen happened another back though maybe probably already else anyway
""".split()
)

# word -> valence (-3..+3)
SENTIMENT: dict[str, float] = {
    # positive
    "good": 1.5, "great": 2.5, "excellent": 3.0, "awesome": 2.8, "amazing": 2.8,
    "perfect": 2.7, "wonderful": 2.7, "fantastic": 2.8, "nice": 1.6, "happy": 2.2,
    "glad": 1.8, "pleased": 1.9, "love": 2.6, "loved": 2.5, "like": 0.8, "liked": 1.2,
    "appreciate": 2.0, "appreciated": 2.0, "thank": 1.4, "thanks": 1.4, "grateful": 2.1,
    "helpful": 1.9, "resolved": 1.5, "solved": 1.5, "fixed": 1.4, "works": 1.0,
    "working": 0.6, "easy": 1.4, "quick": 1.0, "quickly": 1.0, "best": 2.2,
    "satisfied": 1.9, "delighted": 2.7, "brilliant": 2.6, "super": 1.8, "cool": 1.3,
    "fine": 0.6, "welcome": 1.2, "kind": 1.4, "friendly": 1.7, "definitely": 0.4,
    "interested": 1.0, "interesting": 1.2, "excited": 2.1, "exciting": 2.0, "beautiful": 2.2,
    "agree": 1.0, "success": 2.0, "successful": 2.0, "smooth": 1.2, "relieved": 1.6,
    "fair": 1.0, "reasonable": 1.0, "enjoy": 1.8, "enjoyed": 1.8, "pleasure": 2.0,
    "fun": 1.8, "recommend": 1.4, "efficient": 1.4, "congratulations": 2.4, "yay": 2.0,
    "convenient": 1.4, "wow": 1.5, "impressive": 2.2, "lovely": 2.3, "correct": 0.6,
    # negative
    "bad": -2.2, "terrible": -2.8, "awful": -2.8, "horrible": -2.8, "worst": -3.0,
    "poor": -1.8, "angry": -2.5, "furious": -3.0, "mad": -2.2, "upset": -2.2,
    "annoyed": -2.0, "annoying": -2.1, "frustrated": -2.3, "frustrating": -2.3,
    "disappointed": -2.2, "disappointing": -2.2, "unacceptable": -2.8, "ridiculous": -2.3,
    "hate": -2.7, "hated": -2.7, "problem": -1.4, "problems": -1.4, "issue": -0.9,
    "issues": -0.9, "broken": -1.8, "broke": -1.4, "wrong": -1.5, "error": -1.4,
    "errors": -1.4, "fail": -1.9, "failed": -1.9, "failure": -2.0, "fraud": -2.4,
    "fraudulent": -2.4, "stolen": -2.1, "lost": -1.3, "late": -1.0, "delay": -1.3,
    "delayed": -1.4, "never": -0.6, "cancel": -0.9, "cancelled": -1.0, "complaint": -1.8,
    "complain": -1.8, "worried": -1.8, "worry": -1.5, "concerned": -1.3, "confused": -1.3,
    "confusing": -1.5, "unhappy": -2.3, "sorry": -0.6, "unfortunately": -1.3,
    "damaged": -1.9, "defective": -2.0, "charged": -0.4, "overcharged": -2.2,
    "scam": -2.8, "useless": -2.4, "waste": -2.0, "wasted": -2.0, "slow": -1.2,
    "difficult": -1.3, "hard": -0.7, "stuck": -1.4, "crash": -1.8, "crashed": -1.8,
    "missing": -1.3, "refuse": -1.6, "refused": -1.7, "unable": -1.2, "expensive": -1.2,
    "sad": -2.0, "upsetting": -2.2, "disgusting": -2.8, "pathetic": -2.6, "incompetent": -2.7,
    "rude": -2.3, "shame": -1.8, "sucks": -2.2, "nightmare": -2.6, "mess": -1.8,
    "threaten": -2.0, "lawyer": -1.5, "unfair": -2.0, "outrageous": -2.7, "disaster": -2.7,
    "fee": -0.5, "fees": -0.5, "penalty": -1.4, "declined": -1.4, "denied": -1.6,
    "boring": -1.5, "tired": -1.1, "unusable": -2.3, "horrendous": -2.9, "dissatisfied": -2.2,
}

# multi-word expressions scored as one unit
PHRASES: dict[str, float] = {
    "no problem": 1.2, "not a problem": 1.2, "no worries": 1.2, "thank you so much": 2.4,
    "thanks so much": 2.2, "thank you very much": 2.2, "that's all": 0.3,
    "not happy": -2.2, "not working": -1.8, "doesn't work": -1.8, "does not work": -1.8,
    "not helpful": -1.9, "fed up": -2.4, "waste of time": -2.5, "rip off": -2.6,
    "ripped off": -2.6, "sick of": -2.2, "had enough": -2.2, "get nowhere": -2.0,
    "makes sense": 0.8, "sounds good": 1.6, "you're welcome": 1.0, "cancel my": -1.5,
}

NEGATORS: frozenset[str] = frozenset(
    "not no never nobody nothing neither nor none cannot can't don't doesn't didn't isn't "
    "wasn't aren't weren't won't wouldn't shouldn't couldn't haven't hasn't hadn't without "
    "hardly barely dont doesnt didnt isnt wasnt wont cant".split()
)

INTENSIFIERS: dict[str, float] = {
    "very": 0.3, "really": 0.3, "so": 0.25, "extremely": 0.5, "absolutely": 0.45,
    "totally": 0.35, "completely": 0.4, "incredibly": 0.45, "super": 0.3, "truly": 0.3,
    "too": 0.2, "quite": 0.15, "most": 0.25, "highly": 0.35, "utterly": 0.5,
    "slightly": -0.4, "somewhat": -0.3, "kinda": -0.3, "little": -0.3, "barely": -0.5,
}

# Cue phrases for an outcome concept. A concept matches the configured label whose
# wording is closest (the concept's aliases), so custom label sets still work.
OUTCOME_CUES: dict[str, dict[str, object]] = {
    "escalated": {
        "aliases": ("escalated", "escalation", "transferred", "transfer", "supervisor"),
        "cues": (
            "supervisor", "manager", "escalate", "escalating", "escalated", "transfer you",
            "transferring you", "transfer your call", "put you through", "connect you with",
            "connect you to", "specialist team", "higher level", "senior agent",
            "speak to someone else", "speak to your manager", "file a complaint",
        ),
    },
    "sale": {
        "aliases": ("sale", "sold", "won", "closed won", "purchase", "converted", "order"),
        "cues": (
            "place the order", "placed the order", "placed your order", "your order is confirmed",
            "order has been placed", "i'll take it", "i will take it", "i'll buy", "sign me up",
            "signed up", "sign up for", "purchase", "purchased", "upgrade you", "upgraded",
            "subscribe", "subscription is active", "processed the payment", "payment went through",
            "booked", "we have a deal", "it's a deal", "add it to my", "buy it",
            "i'd like to order", "i'll order", "confirm the order",
        ),
    },
    "no sale": {
        "aliases": ("no sale", "lost", "not interested", "declined", "closed lost"),
        "cues": (
            "not interested", "too expensive", "can't afford", "no thanks", "no thank you",
            "i'll pass", "not right now", "don't need it", "think about it", "shop around",
            "maybe later", "not at this time",
        ),
    },
    "follow-up needed": {
        "aliases": ("follow-up needed", "follow up", "follow-up", "callback", "pending", "open"),
        "cues": (
            "follow up", "follow-up", "call you back", "call back", "get back to you",
            "i'll send", "i will send", "we'll send", "we will send", "send you", "email you",
            "within 24 hours", "within 48 hours", "business days", "by tomorrow", "next week",
            "i'll check", "look into it", "look into this", "reach out", "schedule",
            "let you know", "keep you posted", "pending", "waiting for", "investigate",
        ),
    },
    "resolved": {
        "aliases": ("resolved", "solved", "fixed", "done", "completed", "closed", "success"),
        "cues": (
            "resolved", "fixed", "that worked", "it works", "working now", "all set",
            "taken care of", "that's all", "that is all", "that's everything", "anything else",
            "problem solved", "issue is solved", "been processed", "has been updated",
            "have updated", "i've updated", "is complete", "is done", "sorted", "refund has been",
            "have a great day", "have a nice day", "you're welcome", "thanks for your help",
            "thank you for your help", "appreciate your help", "perfect", "great, thanks",
            "was able to", "been reset", "been cancelled", "been canceled", "has been sent",
            "is on its way", "went through",
        ),
    },
    "voicemail": {
        "aliases": ("voicemail", "no answer", "left message", "answering machine"),
        "cues": (
            "leave a message", "leave your message", "after the tone", "after the beep",
            "not available to take your call", "voicemail", "mailbox", "please call me back at",
        ),
    },
    "unresolved": {
        "aliases": ("unresolved", "open", "failed", "not resolved", "abandoned"),
        "cues": (
            "still not working", "still doesn't work", "can't help", "cannot help",
            "unable to", "not able to", "no way to", "nothing i can do", "nothing we can do",
            "didn't work", "not resolved", "still broken", "hang up", "waste of time",
        ),
    },
    "informational": {
        "aliases": ("informational", "information", "inquiry", "question", "info", "meeting"),
        "cues": (
            "wanted to know", "want to know", "i have a question", "quick question",
            "what are your", "what is the", "how do i", "how does", "can you tell me",
            "wondering", "information about", "hours", "policy", "agenda", "meeting",
            "let's discuss", "next meeting",
        ),
    },
}

URGENT_WORDS: tuple[str, ...] = (
    "urgent", "urgently", "asap", "as soon as possible", "immediately", "right away",
    "right now", "today", "tonight", "critical", "emergency", "straight away", "top priority",
)
LOW_PRIORITY_WORDS: tuple[str, ...] = (
    "whenever", "no rush", "no hurry", "when you get a chance", "when you have time",
    "eventually", "at some point", "low priority", "not urgent", "in your own time",
)
