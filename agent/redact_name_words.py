"""The words name finding knows: what is never a person's name, and what closes a message.

Team and function words (ROLE_PARTS, ROLE_WORDS), words after a greeting that name nobody
(NOT_NAMES), names that are also common words (COMMON_WORDS), and the words of a closing
(CLOSING_WORDS, CLOSING_ANCHORS; closing_end finds one), in the supported languages; and the
words a text itself uses as a thing (things). Used by agent.redact_names.
"""

from __future__ import annotations

import re

# A word: letters, with an apostrophe or a hyphen inside ("O'Neill", "Marie-Claire").
WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Part of the name of a team, a service or a function, not of a person ("Kundenservice-Team").
ROLE_PARTS = re.compile(
    r"team|support|servi[cç]|desk|help|hilfe|admin|customer|kunde|client|care|depart|abteil|office"
    r"|sales|billing|financ|account|secur|operat|network|system|techni|engineer|info|contact"
    r"|kontakt|reply|mailer|master|monitor|alert|notif|report|[ée]quip|soporte|suporte|assist"
    r"|atend|dienst|group|grupp|grupo|groupe|dept|staff|crew|partner|vendor|user|manage|portal"
    r"|abuse|mail|bot|store|shop|tienda|loja|online|tech"
)
# ...or a whole word of one ("Caro Time de Suporte": Portuguese "time" is a team).
ROLE_WORDS = frozenset(
    {"it", "hr", "pm", "qa", "ops", "noc", "soc", "ti", "edv", "ict", "time", "personal"}
)
# Words that follow a greeting or a closing without naming anyone, in the supported languages.
NOT_NAMES = frozenset(
    _words(
        """all everyone everybody there sir sirs madam colleague colleagues collegues folks guys
        friends ladies gentlemen again mr mrs ms dr he she they me us him her them i'm im following
        problem issue request urgent update help
    both you the a an and or of to for in on at with from by is are was i we my our your please
    thanks thank regards best kind many sent any some this that it not no yes ok okay hello hi dear
    sorry good morning afternoon evening day night same also just still here once more now team
    alle zusammen liebe damen herren und oder der die das ich wir sie mit von für bitte danke
    hat ist war wird am im auf aus zum zur dem den des ein eine einen einem hier
    kollegen kolleginnen leute grüße gruß
    todos todas equipo señor señora señores señoras y el la los las de del con para por gracias
    saludos hola buenos buenas
    tous toutes équipe monsieur madame messieurs mesdames et le les du des avec pour merci bonjour
    cordialement
    equipe equipa senhor senhora senhores senhoras e o os as do da com obrigado obrigada
    tutti squadra signore signora signori il lo gli di con per grazie saluti"""
    )
)
# First names and surnames that are also common words: alone they stay, but not in a whole name,
# a greeting or a sign-off ("please mark it as done" keeps its verb when Mark Jones wrote it).
COMMON_WORDS = frozenset(
    _words(
        """will mark bill may june april august grant frank rob sue pat art jack ray dawn hope
        joy rose page max chase miles lane dean drew guy rich young long king hunter amber ruby
        crystal penny summer winter sunny sky river stone price field bell hall wood hill ward
        cook baker white black green brown gray grey little short sharp swift frost snow day
        knight case post key banks mills booth marsh power fox wolf bird cash gold silver major
        sterling sage carter porter turner walker parker mason fisher miller gene glen cliff
        norman victor
        klein lang lange jung weiss weiß schwarz braun roth koch keller stein vogel sommer könig
        kaiser fuchs hahn bauer fischer weber meister"""
    )
)

# A closing: a line of these words only ("Best regards,", "Mit freundlichen Grüßen"), one of
# them a closing's own (CLOSING_ANCHORS), or "--", the signature's separator.
CLOSING_WORDS = frozenset(
    _words(
        """best kind warm warmest many regards wishes thanks thank you cheers sincerely yours truly
    faithfully respectfully in advance again and with a lot br kr rgds thx tia
    mit freundlichen freundliche grüßen grüssen grüße grüsse viele beste liebe herzliche gruß gruss
    mfg lg vg danke vielen dank schöne schönen
    saludos cordiales un saludo atentamente cordialmente gracias muchas abrazo
    bien à vous salutations sincères distinguées merci beaucoup cordialement bonne journée
    atenciosamente cumprimentos obrigado obrigada abraços att saudações
    cordiali distinti saluti grazie mille"""
    )
)
CLOSING_ANCHORS = frozenset(
    _words(
        """regards wishes thanks thank cheers sincerely yours best br kr rgds thx tia grüßen grüssen
    grüße grüsse gruß gruss mfg lg vg danke dank saludos saludo atentamente cordialmente gracias
    salutations merci cordialement atenciosamente cumprimentos obrigado obrigada abraços att
    saudações saluti grazie"""
    )
)


def closing_end(line: str) -> int | None:
    """Where the closing that starts a line ends ("Best regards", "--"), or None."""
    if line.strip() == "--":
        return len(line)
    end = None
    anchored = False
    for count, m in enumerate(WORD.finditer(line)):
        word = m.group().lower()
        if count >= 6 or word not in CLOSING_WORDS or line[end or 0 : m.start()].strip(" ,&"):
            break
        anchored = anchored or word in CLOSING_ANCHORS
        end = m.end()
    return end if anchored else None


def is_role(word: str) -> bool:
    """True for a word of a team's, a service's or a function's name ("Support", "IT")."""
    lowered = word.lower()
    return lowered in ROLE_WORDS or ROLE_PARTS.search(lowered) is not None


# A word the text uses as a thing is no name there, alone ("im Keller", "the printer", "the
# ctoc has received", "the dac team"): after an article or a determiner that no person's name
# takes (an optional number between: "im 2. Stock"), or before a team's word.
_NOUN_AFTER = r"(?:[^\S\n]+\d+\.?)?[^\S\n]+(" + WORD.pattern + r")"
_THING_BEFORE = re.compile(
    r"(?i)(?<!\w)(?:ein|eine|einen|einem|einer|eines|kein|keine|keinen|keinem|keiner|das|dies(?:er|e"
    r"|en|em|es)|jede[rnms]?|im|vom|zum|zur|ins|ans|aufs|un|una|une|uno|um|uma)" + _NOUN_AFTER
)
# ...and English ones, which a surname can follow as a modifier ("the Schmidt account"): only
# before a word written in lower case among capitals, or in a text of no capitals.
_LOWER_THING_BEFORE = re.compile(
    r"(?i)(?<!\w)(?:the|a|an|this|that|these|those|my|our|your|their|its|each|every|another)"
    + _NOUN_AFTER
)
_TEAM_AFTER = re.compile(
    r"(?i)(?<![^\W\d_]|['’-])("
    + WORD.pattern
    + r")(?:[^\S\n]+|-)(?:teams?|group|gruppe|queue|hotline|desk|mailbox"
    r"|postfach)\b"
)


def things(text: str, caseless: bool) -> frozenset[str]:
    """Lower-cased words the text uses as a thing: after an article or before a team's word;
    ``caseless``: the text has no capitals, so a lower-case word after "the" says nothing."""
    found = {m.group(1).lower() for m in _THING_BEFORE.finditer(text)}
    found.update(m.group(1).lower() for m in _TEAM_AFTER.finditer(text))
    found.update(
        m.group(1).lower()
        for m in _LOWER_THING_BEFORE.finditer(text)
        if caseless or m.group(1).islower()
    )
    return frozenset(found)
