"""Redaction of personal data: what is caught, what is left alone, and the way back."""

from __future__ import annotations

import time

import pytest

from agent.redact import Redactor, iban_ok, luhn_ok, redact, restore


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("Mail me at john.doe+vpn@example.co.uk please", "EMAIL", "john.doe+vpn@example.co.uk"),
        ("Call +49 30 1234 5678 today", "PHONE", "+49 30 1234 5678"),
        ("Tel. 0044 20 7946 0958", "PHONE", "0044 20 7946 0958"),
        ("my number is (555) 123-4567.", "PHONE", "(555) 123-4567"),
        ("reach me on 555.123.4567", "PHONE", "555.123.4567"),
        ("Handy: 0171/1234567", "PHONE", "0171/1234567"),
        ("Mon numéro : 06 12 34 56 78.", "PHONE", "06 12 34 56 78"),
        ("Festnetz 030 12345678 ab 9 Uhr", "PHONE", "030 12345678"),
        ("call me at 07700900123", "PHONE", "07700900123"),
        ("card 4111 1111 1111 1111 was charged", "CARD", "4111 1111 1111 1111"),
        ("Mastercard 5500-0055-5555-5559", "CARD", "5500-0055-5555-5559"),
        ("card 4111.1111.1111.1111 was charged", "CARD", "4111.1111.1111.1111"),
        ("IBAN DE89-3704-0044-0532-0130-00 please", "IBAN", "DE89-3704-0044-0532-0130-00"),
        ("to gb82-west-1234-5698-7654-32.", "IBAN", "gb82-west-1234-5698-7654-32"),
        # IPv4 addresses: a port, a prefix or a full stop after one stays
        ("server 192.168.10.25 is down", "IP", "192.168.10.25"),
        ("deny 10.16.140.231:54411 -> port 135", "IP", "10.16.140.231"),
        ("blocked (62.157.140.133/32).", "IP", "62.157.140.133"),
        ("may it send from 54.87.86.150.", "IP", "54.87.86.150"),
        ("IBAN DE89 3704 0044 0532 0130 00 Thanks", "IBAN", "DE89 3704 0044 0532 0130 00"),
        ("to GB82WEST12345698765432.", "IBAN", "GB82WEST12345698765432"),
        ("account no 123456 is blocked", "ACCOUNT", "123456"),
        ("acct #A-99812", "ACCOUNT", "A-99812"),
        ("Customer number: 77812", "ACCOUNT", "77812"),
        ("Kundennummer 123, bitte prüfen", "ACCOUNT", "123"),
        ("Kunden-Nr. 4455", "ACCOUNT", "4455"),
        ("mi número de cliente 998877", "ACCOUNT", "998877"),
        ("numéro de client 55443", "ACCOUNT", "55443"),
        ("número de conta 12345678", "ACCOUNT", "12345678"),
        ("o n.º cliente 445566 está bloqueado", "ACCOUNT", "445566"),
        ("nº da conta: 998877", "ACCOUNT", "998877"),
        ("Cuenta: 12345678, bloqueada", "ACCOUNT", "12345678"),
        ("Konto: 4455667", "ACCOUNT", "4455667"),
        ("compte : 778899", "ACCOUNT", "778899"),
        ("my account number is 12345678 and", "ACCOUNT", "12345678"),
        ("the customer id is ABC-1234.", "ACCOUNT", "ABC-1234"),
        ("Kundennummer lautet 4711-22", "ACCOUNT", "4711-22"),
        ("my IBAN is de89370400440532013000.", "IBAN", "de89370400440532013000"),
        ("Bitte an info@müller.de antworten", "EMAIL", "info@müller.de"),
        ("Écrivez à anna@société.fr.", "EMAIL", "anna@société.fr"),
        ("連絡先 anna@example.comまで", "EMAIL", "anna@example.com"),
        ("Regards, sean.o'brien@example.ie", "EMAIL", "sean.o'brien@example.ie"),
        ("écrivez à 'anna@example.fr' svp", "EMAIL", "anna@example.fr"),
        # full-width forms, as typed in East Asian input modes
        ("連絡先 anna.schmidt＠example.com まで", "EMAIL", "anna.schmidt＠example.com"),
        ("電話 ０３０ １２３４ ５６７８ です", "PHONE", "０３０ １２３４ ５６７８"),
        (
            "カード ４１１１ １１１１ １１１１ １１１１ で",
            "CARD",
            "４１１１ １１１１ １１１１ １１１１",
        ),
        ("customer no ４４８８１２", "ACCOUNT", "４４８８１２"),
        # national numbers with no trunk 0, unlabelled or after "my number"
        ("mi número es 612 345 678", "PHONE", "612 345 678"),
        ("llámame al 612 34 56 78 por la tarde", "PHONE", "612 34 56 78"),
        ("oficina 91 234 56 78", "PHONE", "91 234 56 78"),
        ("contacto: 612-345-678, gracias", "PHONE", "612-345-678"),
        ("o meu é 912 345 678.", "PHONE", "912 345 678"),
        ("chiamami al 347 1234567", "PHONE", "347 1234567"),
        ("звоните 8 (912) 345-67-89", "PHONE", "8 (912) 345-67-89"),
        ("mi número es 612345678", "PHONE", "612345678"),
        # Brazil's area code in brackets, unlabelled: mobiles and landlines
        ("(11) 98765-4321 é o meu", "PHONE", "(11) 98765-4321"),
        ("ligue (21) 3456-7890 à tarde", "PHONE", "(21) 3456-7890"),
        ("fale comigo: (31) 9 8765-4321", "PHONE", "(31) 9 8765-4321"),
        ("my number is 6123456789", "PHONE", "6123456789"),
        # an international number right after its label's colon or dot, or in a tel: link
        ("Tel:+49 30 1234567 (Zentrale)", "PHONE", "+49 30 1234567"),
        ("Mobil:+491711234567", "PHONE", "+491711234567"),
        ("Tél.:+33 1 42 68 53 00", "PHONE", "+33 1 42 68 53 00"),
        ("tel.+351 912 345 678", "PHONE", "+351 912 345 678"),
        ("Phone:+1 415 555 0132", "PHONE", "+1 415 555 0132"),
        ("<tel:+1-415-555-0132>", "PHONE", "+1-415-555-0132"),
        ("customer number:\ntelephone:0649737471\nsummary:", "PHONE", "0649737471"),
        ("compliance\nm:412-558-3346 (mobile)", "PHONE", "412-558-3346"),
        # Portuguese labels before a number with no trunk 0
        ("Telefone: 21 123 4567", "PHONE", "21 123 4567"),
        ("telefone (11) 91234-5678, obrigado", "PHONE", "(11) 91234-5678"),
        ("Telemóvel 91 234 5678", "PHONE", "91 234 5678"),
        ("o meu telemovel: 96 123 4567", "PHONE", "96 123 4567"),
        # a label with its "number" noun or its verb ("is", "ist", "es", "est le", "é")
        ("Phone number: 7700 900123", "PHONE", "7700 900123"),
        ("Mobile no. 7700 900123", "PHONE", "7700 900123"),
        ("contact number: 7700 900123", "PHONE", "7700 900123"),
        ("my phone is 7700 900123", "PHONE", "7700 900123"),
        ("Telefonnummer: 30 1234567", "PHONE", "30 1234567"),
        ("Tel.-Nr.: 30 1234567", "PHONE", "30 1234567"),
        ("mein Handy ist 171 1234567", "PHONE", "171 1234567"),
        ("mi celular es 55-1234-5678", "PHONE", "55-1234-5678"),
        ("mon portable est le 6 12 34 56 78", "PHONE", "6 12 34 56 78"),
        ("meu celular é 98765-4321", "PHONE", "98765-4321"),
        ("Tél. 0612345678", "PHONE", "0612345678"),
        # the area code set off by a spaced slash, as German signatures write it
        ("Tel.: 0221 / 123456", "PHONE", "0221 / 123456"),
        ("Rufnummer 089 / 1234 5678 (Büro)", "PHONE", "089 / 1234 5678"),
        ("Telefon 030 - 1234567", "PHONE", "030 - 1234567"),
        ("Anruf unter 0221 - 123 456 78", "PHONE", "0221 - 123 456 78"),
        ("fax   +49 (0) 9279 - 80 – 220\n", "PHONE", "+49 (0) 9279 - 80 – 220"),
        # addresses written out
        ("write to anna at example dot com", "EMAIL", "anna at example dot com"),
        ("anna [at] example [dot] com, thanks", "EMAIL", "anna [at] example [dot] com"),
        (
            "Mail: anna.schmidt(at)mail(dot)example(dot)co(dot)uk.",
            "EMAIL",
            "anna.schmidt(at)mail(dot)example(dot)co(dot)uk",
        ),
        ("contact ANNA AT EXAMPLE DOT ORG", "EMAIL", "ANNA AT EXAMPLE DOT ORG"),
        ("anna{at}example.com", "EMAIL", "anna{at}example.com"),
        ("anna @ example.com", "EMAIL", "anna @ example.com"),
        ("escríbeme a ana arroba ejemplo punto es", "EMAIL", "ana arroba ejemplo punto es"),
        ("sean.o'brien at example dot ie", "EMAIL", "sean.o'brien at example dot ie"),
        ("Mail an jan (at) müller (punkt) de bitte", "EMAIL", "jan (at) müller (punkt) de"),
        ("the team at Acme dot Corp anna at example dot com", "EMAIL", "anna at example dot com"),
    ],
)
def test_personal_data_is_replaced(text: str, kind: str, value: str) -> None:
    result = redact(text)
    assert value not in result.text
    assert f"[{kind}_1]" in result.text
    assert result.mapping[f"[{kind}_1]"] == value
    assert result.counts == {kind: 1}
    assert restore(result.text, result.mapping) == text


@pytest.mark.parametrize(
    "text",
    [
        "ORA-12154: TNS could not resolve the connect identifier",
        "Windows Update fails with 0x80070005 since 2024-01-15",
        "It happened on 15.01.2024 at 12:30:45 and again on 01/15/2024",
        "see ticket #1234567 and INC0012345, order 12345678",
        "the server runs build 10.0.19045.1234 with KB5034441",
        # four numbers that are no IPv4 address: a version, an octet past 255, an OID
        "versions 1.4.00 through 1.5.0.1, version 1.5.1.0 and build 10.2.3.4",
        "firmware v2.0.1.3 on the router, agent 1.2.3.4.5",
        "device 80.71.06.702 and OID 1.3.6.1.4.1.9",
        "card 4111.1111.1111.1112 (wrong checksum), 1.4111.1111.1111.1111",
        "IBAN DE89-3704-0044-0532-0130-01 has a wrong checksum",
        "card 4111 1111 1111 1112 (wrong checksum) is not a card",
        "IBAN DE89 3704 0044 0532 0130 01 has a wrong checksum",
        "My account is locked since 2023 and the account owner is away",
        "Cuenta: bloqueada desde ayer, Konto: gesperrt, compte : verrouillé",
        "1500 users, port 8080, 3 seconds, price 1,234.56 EUR",
        "AADSTS50076 and error code 809 on the VPN",
        "ＥＲＲＯＲ ＯＲＡ－０１６５２ と ２０２４－０１－１５",
        # nine digits that are no phone number: amounts, counts, references, lists
        "Umsatz 612 345 678 EUR, total 712 345 678,50 € or € 812 345 678",
        "we have 612 345 678 rows and 1 612 345 678 bytes",
        "pedido 612-345-678, invoice 612 345 678, ticket 712 345 678",
        "order 612345678 and 712345678 unlabelled",
        "my order number is 612 345 678, mi número de pedido es 712 34 56 78",
        "Bestellnummer: 612 345 678, numéro de commande : 912 345 678",
        "servers 612.345.678 and 712.345.678",
        "Zeitzone UTC+01:00, build 1.2.3+4567890, 12:+1234567",
        "build.1234567, v:7654321, id:1234567, Art.-Nr.1234567, ts:1700000000, date:2024-01-15",
        "Seite 12 / 13, am 01 / 05 / 2024, Quote 100 / 2500000",
        "order no. 612345678, ticket nr 7123456, the case is 8123456",
        "rows (10) 2345-6789 and (12) 1234-5678",
        "von 0800 - 1700 Uhr, 2019 - 2024, Zeilen 100 - 2500000",
        "the thresholds are 600 700 800",
        # "at" and "dot" in prose
        "Log in at portal.example.com with your badge",
        "The error is at line 12.3 of config.yaml",
        "He worked at the dot com startup for years",
        "the team at Acme dot Corp has the same problem",
        "thanks @anna.schmidt for the quick help",
        "look at it point blank",
        "[at] the end of the log",
        "at dispatch @ jquery.min.js:3 and i @ app.bundle.js",
    ],
)
def test_lookalikes_are_left_alone(text: str) -> None:
    result = redact(text)
    assert result.text == text
    assert result.mapping == {} and result.counts == {}


def test_same_value_gets_the_same_placeholder_across_texts() -> None:
    redactor = Redactor()
    first = redactor.redact("from a@example.com and b@example.com")
    second = redactor.redact("again a@example.com, phone +1 415 555 0100")
    assert first == "from [EMAIL_1] and [EMAIL_2]"
    assert second == "again [EMAIL_1], phone [PHONE_1]"
    assert redactor.counts == {"EMAIL": 3, "PHONE": 1}
    assert restore(second, redactor.mapping) == "again a@example.com, phone +1 415 555 0100"


def test_restore_without_mapping_is_identity() -> None:
    assert restore("[EMAIL_1] stays", {}) == "[EMAIL_1] stays"


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("DE89370400440532013000") and not iban_ok("DE89370400440532013001")
    assert not iban_ok("DE89")


def test_a_long_run_of_numbers_is_redacted_in_linear_time() -> None:
    # Each card-shaped run searched the whole text before it for an IBAN head: ~20 s for this
    # table, as long as the longest body a ticket may have. It reads the five characters before.
    table = "12 " * 66_000 + "card 4111 1111 1111 1111"
    started = time.perf_counter()
    result = redact(table)
    assert time.perf_counter() - started < 2.0
    assert result.text.endswith("card [CARD_1]") and result.counts == {"CARD": 1}
    assert redact("IBAN DE00 4111 1111 1111 1111").counts == {}  # a bad IBAN is not a card


@pytest.mark.parametrize(
    "near_misses",
    [
        "a at " + "b dot " * 8_000,  # written out, with no top-level domain at the end
        "a [at] " + "b [dot] " * 6_000,
        "a at " * 12_000,
        "x" * 50_000 + " at example dot com",
        "a at " + "b" * 50_000 + " dot com",
        "anna " + " " * 50_000 + "at",
        "o'" * 25_000 + " at example",
    ],
)
def test_written_out_addresses_are_found_in_linear_time(near_misses: str) -> None:
    started = time.perf_counter()
    result = redact(near_misses + "\nanna at example dot com")
    # 0.05-0.2 s on an idle core; the bound leaves room for a busy machine, where a pattern that
    # backtracked over 50,000 characters would take minutes.
    assert time.perf_counter() - started < 2.0
    assert result.text.endswith("\n[EMAIL_1]") and result.counts == {"EMAIL": 1}


def test_a_table_of_nine_digit_amounts_is_read_in_linear_time() -> None:
    # Each number is judged from the few characters around it, not from the text before it.
    table = "612 345 678 EUR | 712 34 56 78 rows\n" * 1_500 + "mi número es 612 345 678"
    started = time.perf_counter()
    result = redact(table)
    assert time.perf_counter() - started < 2.0
    assert result.text.endswith("mi número es [PHONE_1]") and result.counts == {"PHONE": 1}


def test_a_pasted_list_of_addresses_is_redacted_in_linear_time() -> None:
    # Each new value recounted the values seen before it: ~5 s for 18,000 addresses (a body of
    # 200,000 characters). Placeholders still number each kind from 1.
    listing = " ".join(f"u{i}@ex.de" for i in range(18_000)) + " +49 30 1234 5678"
    started = time.perf_counter()
    result = redact(listing)
    assert time.perf_counter() - started < 2.0
    assert result.text.startswith("[EMAIL_1] [EMAIL_2] ")
    assert result.text.endswith("[EMAIL_18000] [PHONE_1]")
