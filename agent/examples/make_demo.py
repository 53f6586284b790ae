"""Generate agent/examples/demo_tickets.jsonl: synthetic, labelled tickets for the example policy.

Every text here was written for this project (Apache-2.0). Output is deterministic: a seeded RNG
over hand-written templates (issues per team and language, openers, sign-offs, products, codes).

    python -m agent.examples.make_demo            # rewrite agent/examples/demo_tickets.jsonl
    python -m agent.examples.make_demo --check    # fail if the committed file is stale
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "demo_tickets.jsonl"
SEED = 20261127
COUNT = 360
SCALE = ["P1", "P2", "P3", "P4"]
URGENT = {
    "en": "This is urgent.",
    "de": "Es ist dringend.",
    "es": "Es urgente.",
    "fr": "C'est urgent.",
}

OPENERS = {
    "en": ["Hi team,", "Hello,", "Hi support,", "Good morning,", "Dear Example Co support,", ""],
    "de": ["Hallo zusammen,", "Guten Tag,", "Hallo Support,", "Sehr geehrte Damen und Herren,", ""],
    "es": ["Hola,", "Buenos días,", "Estimado soporte,", "Hola equipo,", ""],
    "fr": ["Bonjour,", "Bonjour l'équipe,", "Madame, Monsieur,", "Salut,", ""],
}
CLOSERS = {
    "en": ["Thanks,", "Best regards,", "Cheers,", "Thank you in advance,", "Regards,"],
    "de": ["Danke und Gruß,", "Viele Grüße,", "Mit freundlichen Grüßen,", "Danke im Voraus,"],
    "es": ["Gracias,", "Saludos,", "Un saludo,", "Muchas gracias,"],
    "fr": ["Merci,", "Cordialement,", "Bien à vous,", "Merci d'avance,"],
}
FIRST = [
    "Alex",
    "Maria",
    "Jan",
    "Lucía",
    "Hugo",
    "Mia",
    "Omar",
    "Ines",
    "Tom",
    "Nora",
    "Pablo",
    "Lea",
]
LAST = ["Keller", "García", "Dupont", "Smith", "Novak", "Berger", "López", "Martin", "Jensen"]
COMPANIES = [
    ("Northwind Logistics", "emea"),
    ("Contoso Retail", "amer"),
    ("Fabrikam Foods", "emea"),
    ("Tailspin Air", "amer"),
    ("Wingtip Bank", "emea"),
    ("Adatum Health", "amer"),
    ("Litware Studios", "apac"),
    ("Proseware Labs", "emea"),
    ("Lucerne Media", "emea"),
    ("Margie Travel", "amer"),
    ("Coho Vineyards", "emea"),
    ("Trey Research", "apac"),
    ("Alpine Ski House", "emea"),
    ("Blue Yonder Airlines", "amer"),
    ("Fourth Coffee", "apac"),
    ("Humongous Insurance", "amer"),
    ("Southridge Video", "emea"),
    ("Woodgrove Energy", "emea"),
    ("Relecloud", "apac"),
    ("VanArsdel Furniture", "emea"),
    ("Wide World Importers", "amer"),
    ("Graphic Design Institute", "emea"),
    ("School of Fine Art", "amer"),
    ("Datum Pharma", "emea"),
]
TIERS = ["standard"] * 11 + ["premium"] * 5 + ["enterprise"] * 5 + ["vip"] * 3


@dataclass(frozen=True)
class Issue:
    """One kind of problem in one language: how customers phrase it and how it was resolved."""

    team: str
    language: str
    subjects: list[str]
    bodies: list[str]
    answers: list[str]
    priority: str = "P3"
    tier: int = 2
    weight: float = 1.0
    slots: dict[str, list[str]] = field(default_factory=dict)


# Slot values shared by many issues.
ERP = ["Example ERP", "SAP S/4HANA", "Example ERP Finance"]
APPS = ["Example CRM", "Example Analytics", "the customer portal", "Example ERP"]
SITES = ["Hamburg", "Lyon", "Madrid", "Chicago", "Singapore", "Munich", "Valencia", "Toronto"]
ORA = ["ORA-00600", "ORA-01555", "ORA-12154", "ORA-00054", "ORA-01653", "ORA-04031", "ORA-12541"]
STOP = ["0x0000007B", "0x000000EF", "0xC000021A", "0x00000124", "0x0000009F"]
EXR = ["EXR-4012", "EXR-2207", "EXR-3150", "EXR-1009", "EXR-4470"]
AAD = ["AADSTS50076", "AADSTS50105", "AADSTS700016", "AADSTS50158", "AADSTS53003"]
HTTP = ["HTTP 500", "HTTP 502", "HTTP 503", "HTTP 504"]
DEVICES = ["ThinkPad T14", "Latitude 7440", "EliteBook 840", "MacBook Pro", "Surface Laptop 5"]
PRINTERS = ["HP LaserJet M507", "Canon iR-ADV C5535", "Brother HL-L6400", "Kyocera TASKalfa 3253"]
TIMES = ["08:15", "09:40", "11:05", "13:30", "15:50", "17:20", "06:45"]

ISSUES: tuple[Issue, ...] = (
    # ---- service_desk (first line) ----
    Issue(
        "service_desk",
        "en",
        ["Password reset needed", "Forgot my password for {app}", "Locked out of {app}"],
        [
            "I forgot my password for {app} and I'm locked out after too many tries. Can you "
            "reset my password?",
            "Please do a password reset for my account, I can't log in to "
            "{app} since this morning.",
            "Forgot password again after my holiday, the reset link in {app} never arrives.",
        ],
        [
            "Reset the password, unlocked the account and sent a one-time link; user logged in.",
            "Unlocked the account and triggered a password reset; advised the self-service portal.",
        ],
        priority="P4",
        tier=1,
        weight=3.0,
        slots={"app": APPS},
    ),
    Issue(
        "service_desk",
        "en",
        [
            "How do I export a report from {app}?",
            "How to share a dashboard",
            "Question: scheduling reports in {app}",
        ],
        [
            "How do I export the monthly report from {app} to Excel? The button seems greyed "
            "out for me.",
            "Could you explain how to share a dashboard in {app} with {n} "
            "colleagues who are not admins?",
            "Is there a way to schedule a weekly report in {app}? I only find the manual export.",
        ],
        [
            "Explained the export permission; granted the Report Viewer role. Export works.",
            "Sent the how-to article on sharing and scheduling; customer confirmed it works.",
        ],
        priority="P4",
        tier=1,
        weight=2.5,
        slots={"app": APPS},
    ),
    Issue(
        "service_desk",
        "en",
        [
            "New starter needs access",
            "Onboarding: {n} new users",
            "Add colleague to shared mailbox",
        ],
        [
            "We have a new colleague starting on Monday in {site}. Please create a user for "
            "{app} and add them to the sales group.",
            "Please add our new hire to the shared mailbox and the {app} licence pool.",
            "We need {n} new user accounts for the {site} office, list attached.",
        ],
        [
            "Created the accounts, assigned licences and sent welcome e-mails.",
            "Added the user to the shared mailbox and the licence group; confirmed access.",
        ],
        tier=1,
        weight=2.0,
        slots={"app": APPS, "site": SITES},
    ),
    Issue(
        "service_desk",
        "en",
        ["Install request: {tool}", "Need {tool} on my laptop"],
        [
            "Could you please install {tool} on my laptop? My manager approved it.",
            "I need {tool} for a customer project, it's not in the software center.",
        ],
        [
            "Installed {tool} through the software center after approval.",
            "Published {tool} in the software center; user installed it.",
        ],
        priority="P4",
        tier=1,
        weight=1.5,
        slots={"tool": ["Visio", "Power BI Desktop", "Python 3.12", "Notepad++", "7-Zip"]},
    ),
    Issue(
        "service_desk",
        "de",
        ["Passwort vergessen", "Passwort zurücksetzen für {app}", "Konto gesperrt"],
        [
            "Ich habe mein Passwort vergessen und komme nicht mehr in {app}. Bitte um Hilfe.",
            "Bitte Passwort zurücksetzen, mein Konto für {app} ist nach drei Versuchen gesperrt.",
            "Seit dem Urlaub komme ich nicht mehr rein, Passwort vergessen.",
        ],
        [
            "Passwort zurückgesetzt und Konto entsperrt; Benutzer hat sich angemeldet.",
            "Konto entsperrt, Link zum Zurücksetzen gesendet; funktioniert wieder.",
        ],
        priority="P4",
        tier=1,
        weight=1.5,
        slots={"app": APPS},
    ),
    Issue(
        "service_desk",
        "de",
        ["Wie kann ich Berichte exportieren?", "Frage zu {app}"],
        [
            "Wie kann ich in {app} einen Bericht als PDF exportieren? Ich finde die Funktion "
            "nicht.",
            "Wie kann ich einem Kollegen Lesezugriff auf mein Dashboard in {app} geben?",
        ],
        [
            "Anleitung geschickt; Export-Recht ergänzt, Export funktioniert.",
            "Freigabe erklärt und Leserolle vergeben; Kunde bestätigt.",
        ],
        priority="P4",
        tier=1,
        slots={"app": APPS},
    ),
    Issue(
        "service_desk",
        "es",
        ["Olvidé mi contraseña", "Restablecer la contraseña de {app}"],
        [
            "Olvidé mi contraseña de {app} y la cuenta está bloqueada. ¿Pueden ayudarme?",
            "Necesito restablecer la contraseña, el enlace de {app} no me llega.",
        ],
        [
            "Se restableció la contraseña y se desbloqueó la cuenta; el usuario ya accede.",
            "Cuenta desbloqueada y enlace de restablecimiento reenviado; resuelto.",
        ],
        priority="P4",
        tier=1,
        weight=1.2,
        slots={"app": APPS},
    ),
    Issue(
        "service_desk",
        "es",
        ["¿Cómo puedo compartir un informe?", "Alta de usuario nuevo"],
        [
            "¿Cómo puedo compartir un informe de {app} con mi equipo de {site}?",
            "Tenemos una nueva compañera en {site}, por favor creen su usuario en {app}.",
        ],
        [
            "Se explicó cómo compartir y se asignó el rol de lector.",
            "Usuario creado con licencia; se envió el correo de bienvenida.",
        ],
        priority="P4",
        tier=1,
        slots={"app": APPS, "site": SITES},
    ),
    Issue(
        "service_desk",
        "fr",
        ["Mot de passe oublié", "Compte bloqué sur {app}"],
        [
            "Mot de passe oublié pour {app}, mon compte est bloqué. Pouvez-vous m'aider ?",
            "Je voudrais réinitialiser mon mot de passe, le lien de {app} ne fonctionne pas.",
        ],
        [
            "Mot de passe réinitialisé et compte débloqué ; l'utilisateur est connecté.",
            "Compte débloqué, nouveau lien envoyé ; résolu.",
        ],
        priority="P4",
        tier=1,
        weight=1.2,
        slots={"app": APPS},
    ),
    Issue(
        "service_desk",
        "fr",
        ["Comment puis-je exporter un rapport ?", "Nouvel arrivant"],
        [
            "Comment puis-je exporter un rapport de {app} en Excel ?",
            "Un nouveau collègue arrive lundi à {site}, merci de créer son accès à {app}.",
        ],
        [
            "Procédure d'export envoyée ; droit d'export ajouté.",
            "Compte créé, licence attribuée, e-mail de bienvenue envoyé.",
        ],
        priority="P4",
        tier=1,
        slots={"app": APPS, "site": SITES},
    ),
    # ---- identity_access ----
    Issue(
        "identity_access",
        "en",
        [
            "SSO login fails with {aad}",
            "Cannot sign in: {aad}",
            "Single sign-on broken for {site} users",
        ],
        [
            "Since {time} our users get {aad} when they sign in to {app} through SSO.",
            "Single sign-on to {app} fails with error {aad}. Direct login works.",
            "After the certificate rotation, SAML login to {app} shows {aad} for {n} users.",
        ],
        [
            "Conditional access policy excluded the new app registration; added it, SSO works.",
            "Renewed the SAML signing certificate in the IdP and updated the metadata.",
        ],
        weight=2.0,
        slots={"aad": AAD, "app": APPS, "site": SITES, "time": TIMES},
    ),
    Issue(
        "identity_access",
        "en",
        ["MFA prompts loop", "New phone, MFA not working", "Authenticator app lost"],
        [
            "I got a new phone and the MFA prompt for {app} never arrives.",
            "The MFA prompt keeps looping, I approve it and it asks again.",
            "Lost my phone with the authenticator app, I can't pass 2FA.",
        ],
        [
            "Reset the MFA registration after identity check; user re-enrolled the new phone.",
            "Cleared stale MFA sessions and re-registered the authenticator; login works.",
        ],
        slots={"app": APPS},
    ),
    Issue(
        "identity_access",
        "en",
        ["Role change for {n} users", "Provisioning did not run"],
        [
            "Users moved to the finance department but still have sales permissions in {app}.",
            "The nightly provisioning job did not create the accounts for our new hires.",
        ],
        [
            "Re-ran the SCIM provisioning job after fixing the attribute mapping.",
            "Updated the group-to-role mapping; permissions corrected for all users.",
        ],
        slots={"app": APPS},
    ),
    Issue(
        "identity_access",
        "de",
        ["SSO-Anmeldung schlägt fehl ({aad})", "MFA funktioniert nicht"],
        [
            "Seit heute Morgen erhalten unsere Benutzer beim SSO-Login in {app} den Fehler {aad}.",
            "Nach dem Handywechsel kommt die Zwei-Faktor Anfrage für {app} nicht mehr an.",
        ],
        [
            "Richtlinie für bedingten Zugriff angepasst; SSO funktioniert wieder.",
            "MFA-Registrierung zurückgesetzt, Benutzer hat das neue Gerät registriert.",
        ],
        slots={"aad": AAD, "app": APPS},
    ),
    Issue(
        "identity_access",
        "es",
        ["Error de SSO {aad}", "Problema con MFA"],
        [
            "Al iniciar sesión con SSO en {app} aparece el error {aad}.",
            "La autenticación multifactor no funciona desde que cambié de móvil.",
        ],
        [
            "Se corrigió la política de acceso condicional; el SSO funciona.",
            "Se reinició el registro MFA y el usuario lo configuró de nuevo.",
        ],
        slots={"aad": AAD, "app": APPS},
    ),
    Issue(
        "identity_access",
        "fr",
        ["Erreur SSO {aad}", "Double authentification bloquée"],
        [
            "Connexion SSO impossible à {app}, message {aad}.",
            "La double authentification ne m'envoie plus de code depuis hier.",
        ],
        [
            "Certificat SAML renouvelé ; la connexion SSO fonctionne.",
            "Enregistrement MFA réinitialisé ; l'utilisateur s'est réinscrit.",
        ],
        slots={"aad": AAD, "app": APPS},
    ),
    # ---- database ----
    Issue(
        "database",
        "en",
        ["{ora} in nightly export", "Database error {ora}", "Reports fail with {ora}"],
        [
            "The nightly export job fails with {ora} since {time}. Log attached.",
            "Our reporting queries on the Oracle database throw {ora} for large date ranges.",
            "Application log shows {ora} when users save orders in {app}.",
        ],
        [
            "Increased undo retention and rescheduled the export; job completes.",
            "Added a missing index and gathered statistics; queries run in seconds again.",
            "Extended the tablespace and enabled autoextend; saves work.",
        ],
        weight=2.0,
        slots={"ora": ORA, "time": TIMES, "app": APPS},
    ),
    Issue(
        "database",
        "en",
        ["Deadlocks on order table", "Replication lag growing", "Tablespace almost full"],
        [
            "We see deadlock errors on the orders table during peak hours in {app}.",
            "Replication lag on the PostgreSQL replica is {n} minutes and growing.",
            "Monitoring warns that the tablespace USERS is 97% full.",
        ],
        [
            "Changed the batch job to lock rows in a consistent order; deadlocks stopped.",
            "A long-running transaction blocked replay; terminated it and lag recovered.",
            "Added a datafile and archived old partitions.",
        ],
        slots={"app": APPS},
    ),
    Issue(
        "database",
        "en",
        ["Queries very slow since upgrade", "Restore from backup needed"],
        [
            "Since the upgrade last weekend, queries in {app} take {n} seconds instead of one.",
            "A user deleted records by mistake, we need a restore of the orders schema from "
            "yesterday's backup.",
        ],
        [
            "Query plans changed after the upgrade; pinned the old plans and refreshed stats.",
            "Restored the schema to a side instance and copied the missing rows back.",
        ],
        slots={"app": APPS},
    ),
    Issue(
        "database",
        "de",
        ["Fehler {ora} beim Export", "Datenbank sehr langsam"],
        [
            "Der nächtliche Export bricht mit {ora} ab.",
            "Die Datenbank von {app} ist seit dem Update extrem langsam, Deadlock-Meldungen im "
            "Log.",
        ],
        [
            "Undo-Retention erhöht; Export läuft durch.",
            "Statistiken neu berechnet und fehlenden Index angelegt; Performance normal.",
        ],
        slots={"ora": ORA, "app": APPS},
    ),
    Issue(
        "database",
        "es",
        ["Error {ora} en la base de datos"],
        [
            "Los informes de {app} fallan con {ora} desde esta mañana.",
            "Al guardar pedidos aparece el error {ora}.",
        ],
        [
            "Se amplió el tablespace y se activó autoextend; resuelto.",
            "Se corrigió la cadena de conexión del listener; la aplicación conecta.",
        ],
        slots={"ora": ORA, "app": APPS},
    ),
    Issue(
        "database",
        "fr",
        ["Erreur {ora} sur la base"],
        ["L'export de nuit échoue avec {ora}.", "Les requêtes de {app} renvoient {ora}."],
        [
            "Rétention undo augmentée ; l'export passe.",
            "Index ajouté et statistiques recalculées ; les requêtes sont rapides.",
        ],
        slots={"ora": ORA, "app": APPS},
    ),
    # ---- network ----
    Issue(
        "network",
        "en",
        ["VPN keeps disconnecting", "VPN error {vpn}", "Cannot reach {app} from {site} office"],
        [
            "Our VPN drops every {n} minutes for users in {site}.",
            "The VPN client shows VPN error {vpn} when connecting from home.",
            "From the {site} office nobody can "
            "reach {app}, other sites are fine. Looks like a firewall issue.",
        ],
        [
            "MTU mismatch on the new tunnel; lowered MTU and the VPN is stable.",
            "Firewall rule for the new office subnet was missing; added it.",
            "Renewed the VPN gateway certificate; clients connect again.",
        ],
        weight=2.0,
        slots={"vpn": ["809", "691", "720", "812"], "site": SITES, "app": APPS},
    ),
    Issue(
        "network",
        "en",
        [
            "DNS not resolving internal names",
            "Packet loss to data center",
            "Need IP whitelisting for API",
        ],
        [
            "Internal host names do not resolve, browser says ERR_NAME_NOT_RESOLVED.",
            "We measure {n}% packet loss between {site} and the data center.",
            "Please whitelist our new egress IPs for the Example Cloud API, our calls time out "
            "with ERR_CONNECTION_TIMED_OUT.",
        ],
        [
            "A stale DNS forwarder was removed; names resolve again.",
            "Faulty optic on the uplink replaced; no more packet loss.",
            "Added the IP ranges to the allow-list; calls succeed.",
        ],
        slots={"site": SITES},
    ),
    Issue(
        "network",
        "de",
        ["VPN bricht ständig ab", "Paketverlust am Standort {site}"],
        [
            "Die VPN Verbindung bricht alle {n} Minuten ab.",
            "Wir haben Paketverlust zwischen {site} und dem Rechenzentrum.",
        ],
        [
            "MTU auf dem Tunnel angepasst; VPN stabil.",
            "Defektes Uplink-Modul getauscht; kein Paketverlust mehr.",
        ],
        slots={"site": SITES},
    ),
    Issue(
        "network",
        "es",
        ["La VPN se desconecta", "Pérdida de paquetes en {site}"],
        [
            "La VPN se desconecta cada {n} minutos.",
            "Tenemos pérdida de paquetes entre la oficina de {site} y el centro de datos.",
        ],
        [
            "Se ajustó la MTU del túnel; la VPN es estable.",
            "Se cambió el módulo óptico defectuoso; sin pérdida de paquetes.",
        ],
        slots={"site": SITES},
    ),
    Issue(
        "network",
        "fr",
        ["Le VPN se déconnecte", "Problème DNS"],
        [
            "Le VPN se coupe toutes les {n} minutes.",
            "Les noms internes ne se résolvent plus, erreur DNS dans le navigateur.",
        ],
        [
            "MTU corrigée sur le tunnel ; VPN stable.",
            "Redirecteur DNS obsolète supprimé ; résolution rétablie.",
        ],
        slots={"site": SITES},
    ),
    # ---- erp_applications ----
    Issue(
        "erp_applications",
        "en",
        ["Invoice posting fails with {exr}", "{erp}: error {exr}", "Goods receipt blocked ({exr})"],
        [
            "When we post vendor invoices in {erp} we get {exr} and the document stays parked.",
            "Goods receipt for purchase orders fails with {exr} since the update.",
            "Batch job for automatic payments stopped with {exr}.",
        ],
        [
            "Posting period was closed for the company code; opened it and reposted.",
            "Missing tax code in the vendor master; corrected master data and reposted.",
            "Restarted the batch job after fixing the variant.",
        ],
        weight=2.0,
        slots={"exr": EXR, "erp": ERP},
    ),
    Issue(
        "erp_applications",
        "en",
        [
            "IDoc errors from warehouse",
            "Short dump in month-end closing",
            "Posting period not open",
        ],
        [
            "{n} IDocs from the warehouse interface are in status 51 and orders are not created.",
            "Month-end closing in {erp} ends with a short dump TSV_TNEW_PAGE_ALLOC_FAILED.",
            "Users cannot post because the posting period is not open for next month.",
        ],
        [
            "Corrected the partner profile and reprocessed the IDocs.",
            "Split the closing job by company code to stay within memory; completed.",
            "Opened the posting period variant for the new month.",
        ],
        priority="P2",
        slots={"erp": ERP},
    ),
    Issue(
        "erp_applications",
        "de",
        ["Buchungsperiode nicht offen", "Fehler {exr} in {erp}"],
        [
            "Wir können nicht buchen, die Buchungsperiode ist geschlossen.",
            "Beim Buchen von Eingangsrechnungen in {erp} erscheint {exr}.",
            "Der Monatsabschluss bricht mit einem Kurzdump DBSQL_DUPLICATE_KEY_ERROR ab.",
        ],
        [
            "Buchungsperiode geöffnet; Buchungen laufen.",
            "Steuerkennzeichen im Kreditorenstamm ergänzt; Rechnung gebucht.",
        ],
        weight=1.5,
        slots={"exr": EXR, "erp": ERP},
    ),
    Issue(
        "erp_applications",
        "es",
        ["Error {exr} al contabilizar", "Período contable cerrado"],
        [
            "Al contabilizar facturas de proveedor en {erp} aparece {exr}.",
            "No podemos contabilizar porque el período contable está cerrado.",
        ],
        [
            "Se abrió el período contable y se contabilizó de nuevo.",
            "Se corrigieron los datos maestros del proveedor.",
        ],
        slots={"exr": EXR, "erp": ERP},
    ),
    Issue(
        "erp_applications",
        "fr",
        ["Erreur {exr} dans {erp}", "Période comptable fermée"],
        [
            "La saisie des factures fournisseurs dans {erp} échoue avec {exr}.",
            "Impossible de comptabiliser, la période comptable est fermée.",
        ],
        [
            "Période comptable ouverte ; comptabilisation possible.",
            "Données de base fournisseur corrigées ; document comptabilisé.",
        ],
        slots={"exr": EXR, "erp": ERP},
    ),
    # ---- billing ----
    Issue(
        "billing",
        "en",
        ["Double charged this month", "Invoice {inv} is wrong", "Refund for cancelled seats"],
        [
            "We were double charged for the {month} subscription, two payments on our credit card.",
            "Invoice {inv} lists {n} licences but we only have {n2}.",
            "We cancelled {n} seats last month, please issue a refund or credit note.",
        ],
        [
            "Confirmed the duplicate payment and issued a refund within 5 business days.",
            "Corrected the licence count and issued a credit note for the difference.",
        ],
        weight=2.0,
        slots={
            "inv": ["INV-204117", "INV-209350", "INV-211802", "INV-198864"],
            "month": ["March", "June", "September", "November"],
            "n2": ["5", "10", "25"],
        },
    ),
    Issue(
        "billing",
        "en",
        ["Update VAT number", "Change payment method", "Overdue notice but we paid"],
        [
            "Please add our new VAT number to future invoices.",
            "We want to switch from credit card to bank transfer for the annual invoice.",
            "We received an overdue notice although the invoice was paid on time.",
        ],
        [
            "Updated the VAT number on the billing account.",
            "Matched the payment to the invoice and cancelled the dunning notice.",
        ],
    ),
    Issue(
        "billing",
        "de",
        ["Rechnung fehlerhaft", "Doppelte Abbuchung"],
        [
            "Die Rechnung für {month} enthält {n} Lizenzen zu viel.",
            "Wir wurden diesen Monat doppelt belastet, bitte um Rückerstattung.",
        ],
        ["Gutschrift über die Differenz erstellt.", "Doppelte Zahlung bestätigt und erstattet."],
        weight=1.5,
        slots={"month": ["März", "Juni", "September"]},
    ),
    Issue(
        "billing",
        "es",
        ["Cobro duplicado", "Factura incorrecta"],
        [
            "Nos han hecho un cobro duplicado este mes en la tarjeta.",
            "La factura incluye {n} licencias que ya cancelamos, solicitamos un reembolso.",
        ],
        [
            "Se confirmó el cobro duplicado y se emitió el reembolso.",
            "Se emitió una nota de crédito por las licencias canceladas.",
        ],
    ),
    Issue(
        "billing",
        "fr",
        ["Facture incorrecte", "Demande de remboursement"],
        [
            "La facture du mois compte {n} licences de trop.",
            "Nous avons payé deux fois, merci de procéder au remboursement.",
        ],
        ["Avoir émis pour la différence.", "Double paiement confirmé et remboursé."],
    ),
    # ---- security ----
    Issue(
        "security",
        "en",
        ["Phishing e-mail received", "Suspicious login alert", "Possible ransomware on file share"],
        [
            "Several colleagues received a phishing e-mail pretending to be from Example Co "
            "asking to confirm their password. One clicked the link.",
            "We got a suspicious "
            "login alert for an admin account from an unknown country at {time}.",
            "Files on our share are being renamed with a strange extension, we fear ransomware.",
        ],
        [
            "Blocked the sender, purged the mail, reset the affected user's credentials and "
            "revoked sessions.",
            "Isolated the host, restored the share from snapshot and opened a forensic case.",
        ],
        priority="P2",
        tier=3,
        weight=1.8,
        slots={"time": TIMES},
    ),
    Issue(
        "security",
        "en",
        ["GDPR data subject request", "Laptop with customer data stolen"],
        [
            "A customer filed a GDPR data subject request asking for all data we hold about them.",
            "A laptop with customer exports was stolen from a car in {site}.",
        ],
        [
            "Compiled the export within the statutory deadline via the privacy workflow.",
            "Remote-wiped the device, confirmed disk encryption and documented the incident.",
        ],
        priority="P2",
        tier=3,
        slots={"site": SITES},
    ),
    Issue(
        "security",
        "de",
        ["Phishing-Mail erhalten", "Konto gehackt?"],
        [
            "Mehrere Mitarbeiter haben eine Phishing-Mail bekommen, einer hat sein Passwort "
            "eingegeben.",
            "Ich glaube mein Konto gehackt, es wurden Mails in meinem Namen verschickt.",
        ],
        [
            "Absender gesperrt, Mail entfernt, Passwort zurückgesetzt, Sitzungen beendet.",
            "Weiterleitungsregel entfernt, Konto gesichert, Vorfall dokumentiert.",
        ],
        priority="P2",
        tier=3,
    ),
    Issue(
        "security",
        "es",
        ["Correo de phishing", "Cuenta comprometida"],
        [
            "Hemos recibido un correo de phishing y un usuario ha introducido sus datos.",
            "Creemos que tenemos una cuenta comprometida, hay accesos desde otro país.",
        ],
        [
            "Se bloqueó el remitente, se eliminó el correo y se restablecieron credenciales.",
            "Se revocaron las sesiones y se activó MFA obligatorio.",
        ],
        priority="P2",
        tier=3,
    ),
    Issue(
        "security",
        "fr",
        ["Hameçonnage", "Compte piraté"],
        [
            "Tentative d'hameçonnage : un e-mail demande de confirmer le mot de passe.",
            "Mon compte piraté envoie des e-mails à mes clients.",
        ],
        [
            "Expéditeur bloqué, e-mail supprimé, mot de passe réinitialisé.",
            "Sessions révoquées, règle de transfert supprimée, incident documenté.",
        ],
        priority="P2",
        tier=3,
    ),
    # ---- platform_sre ----
    Issue(
        "platform_sre",
        "en",
        ["Outage: {app} down", "Production down since {time}", "{http} on all API calls"],
        [
            "{app} is completely down for all our users since {time}.",
            "Every call to the "
            "Example Cloud API returns {http} since {time}. Our integration is stuck.",
            "Service down: the login page of {app} shows a gateway error.",
        ],
        [
            "Failed deployment rolled back; service restored, postmortem published.",
            "A node pool ran out of memory; scaled it and restarted the pods.",
        ],
        priority="P1",
        tier=3,
        weight=1.6,
        slots={"app": APPS, "http": HTTP, "time": TIMES},
    ),
    Issue(
        "platform_sre",
        "en",
        ["API very slow", "Webhooks delayed", "Intermittent {http}"],
        [
            "API response times went from 200 ms to {n} seconds since yesterday.",
            "Webhooks from Example Cloud arrive {n} minutes late.",
            "About one in ten requests returns {http}, the rest work.",
        ],
        [
            "Message queue consumers were throttled; scaled them out and the backlog drained.",
            "A noisy neighbour saturated the database connections; moved it to its own pool.",
        ],
        priority="P2",
        tier=3,
        slots={"http": HTTP},
    ),
    Issue(
        "platform_sre",
        "de",
        ["Ausfall von {app}", "Plattform nicht erreichbar"],
        [
            "Seit {time} Ausfall von {app}, keiner kann arbeiten.",
            "Die API liefert nur noch {http}.",
        ],
        [
            "Fehlerhaftes Deployment zurückgerollt; Dienst wiederhergestellt.",
            "Speicherengpass im Cluster behoben; Dienst läuft.",
        ],
        priority="P1",
        tier=3,
        slots={"app": APPS, "http": HTTP, "time": TIMES},
    ),
    Issue(
        "platform_sre",
        "es",
        ["Caída del servicio de {app}", "Error {http} en la API"],
        [
            "Caída del servicio de {app} desde las {time}.",
            "Todas las llamadas a la API devuelven {http}.",
        ],
        [
            "Se revirtió el despliegue fallido y se restableció el servicio.",
            "Se escaló el clúster; la API responde con normalidad.",
        ],
        priority="P1",
        tier=3,
        slots={"app": APPS, "http": HTTP, "time": TIMES},
    ),
    Issue(
        "platform_sre",
        "fr",
        ["{app} hors service", "Erreur {http} sur l'API"],
        ["{app} est hors service depuis {time}.", "L'API renvoie {http} à chaque appel."],
        [
            "Déploiement défectueux annulé ; service rétabli.",
            "Cluster redimensionné ; l'API répond normalement.",
        ],
        priority="P1",
        tier=3,
        slots={"app": APPS, "http": HTTP, "time": TIMES},
    ),
    # ---- hardware ----
    Issue(
        "hardware",
        "en",
        ["Blue screen {stop}", "Laptop crashes with BSOD", "{device} keeps restarting"],
        [
            "My {device} shows a blue screen with stop code {stop} several times a day.",
            "BSOD {stop} after the last driver update on my {device}.",
        ],
        [
            "Rolled back the storage driver and updated the BIOS; no crashes since.",
            "Memory test failed; replaced the RAM module.",
        ],
        weight=1.5,
        slots={"stop": STOP, "device": DEVICES},
    ),
    Issue(
        "hardware",
        "en",
        ["Printer prints blank pages", "Docking station not detected", "Laptop battery swollen"],
        [
            "The {printer} on the 3rd floor prints blank pages.",
            "My {device} no longer detects the docking station, no external monitors.",
            "The battery of my {device} is swollen and the touchpad lifts.",
        ],
        [
            "Replaced the toner and cleaned the drum; prints fine.",
            "Updated the dock firmware; monitors work.",
            "Sent a replacement device and collected the damaged one.",
        ],
        weight=1.5,
        slots={"printer": PRINTERS, "device": DEVICES},
    ),
    Issue(
        "hardware",
        "de",
        ["Bluescreen {stop}", "Drucker druckt nicht"],
        [
            "Mein {device} zeigt mehrmals täglich einen Bluescreen mit {stop}.",
            "Der {printer} im 2. Stock zieht kein Papier ein.",
        ],
        [
            "Treiber zurückgesetzt und BIOS aktualisiert; stabil.",
            "Einzugsrolle getauscht; Drucker funktioniert.",
        ],
        slots={"stop": STOP, "device": DEVICES, "printer": PRINTERS},
    ),
    Issue(
        "hardware",
        "es",
        ["Pantalla azul {stop}", "La impresora no imprime"],
        [
            "Mi {device} muestra una pantalla azul con el código {stop}.",
            "La {printer} de la oficina imprime páginas en blanco.",
        ],
        [
            "Se actualizó la BIOS y el controlador; sin fallos.",
            "Se cambió el tóner; imprime correctamente.",
        ],
        slots={"stop": STOP, "device": DEVICES, "printer": PRINTERS},
    ),
    Issue(
        "hardware",
        "fr",
        ["Écran bleu {stop}", "Station d'accueil non détectée"],
        [
            "Mon {device} affiche un écran bleu avec le code {stop}.",
            "La station d'accueil n'est plus reconnue par mon {device}.",
        ],
        [
            "Pilote restauré et BIOS mis à jour ; plus de plantage.",
            "Firmware de la station mis à jour ; écrans fonctionnels.",
        ],
        slots={"stop": STOP, "device": DEVICES},
    ),
)


def _accounts(rng: random.Random) -> list[dict[str, Any]]:
    tiers = TIERS[:]
    rng.shuffle(tiers)
    return [
        {"id": f"ACC-{i + 101}", "name": name, "tier": tiers[i], "region": region}
        for i, (name, region) in enumerate(COMPANIES)
    ]


def _requesters(rng: random.Random, accounts: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """(requester id, display name, account index); a few people write many tickets."""
    people = []
    for i in range(90):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        people.append((f"req-{i + 1:03d}", name, rng.randrange(len(accounts))))
    return people


def _priority(issue: Issue, tier: str, urgent: bool) -> str:
    rank = SCALE.index(issue.priority)
    if tier == "vip":
        rank = min(rank, 1)
    if urgent:
        rank = max(rank - 1, 0)
    return SCALE[rank]


def _tier(issue: Issue, account_tier: str) -> int:
    if issue.team != "service_desk" and account_tier == "vip":
        return 3
    return issue.tier


def _fill(text: str, slots: dict[str, str]) -> str:
    return text.format(**slots)


def make(count: int = COUNT, seed: int = SEED) -> list[dict[str, Any]]:
    """The demo tickets, deterministic for a given seed."""
    rng = random.Random(seed)
    accounts = _accounts(rng)
    people = _requesters(rng, accounts)
    weights = [1.0 / (1 + i % 30) for i in range(len(people))]  # repeat requesters
    issues = list(ISSUES)
    issue_weights = [i.weight for i in issues]
    rows = []
    for n in range(count):
        issue = rng.choices(issues, issue_weights)[0]
        lang = issue.language
        req_id, name, acc_index = rng.choices(people, weights)[0]
        account = accounts[acc_index]
        slots = {key: rng.choice(values) for key, values in issue.slots.items()}
        slots.update(name=name, company=account["name"], n=str(rng.randint(2, 60)))
        # Subject, body and resolution of one issue are written in step: pick them together.
        pick = rng.randrange(len(issue.bodies))
        subject = issue.subjects[pick % len(issue.subjects)]
        if rng.random() < 0.3:
            subject = rng.choice(issue.subjects)
        body_lines = [rng.choice(OPENERS[lang]), _fill(issue.bodies[pick], slots)]
        urgent = rng.random() < 0.18 and issue.team != "service_desk"
        if urgent:
            body_lines.append(URGENT[lang])
        body_lines += ["", rng.choice(CLOSERS[lang]), name]
        if rng.random() < 0.15:
            body_lines.append(
                f"+49 30 {rng.randint(1000000, 9999999)}"
                if lang == "de"
                else f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
            )
        rows.append(
            {
                "id": f"DEMO-{n + 1:04d}",
                "subject": _fill(subject, slots),
                "body": "\n".join(line for line in body_lines if line is not None).strip(),
                "requester": req_id,
                "language": lang,
                "labels": {
                    "team": issue.team,
                    "priority": _priority(issue, account["tier"], urgent),
                    "tier": _tier(issue, account["tier"]),
                },
                "answer": _fill(issue.answers[pick % len(issue.answers)], slots),
                "account": {
                    "id": account["id"],
                    "tier": account["tier"],
                    "region": account["region"],
                },
            }
        )
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    """JSON Lines, one ticket a line, UTF-8 kept readable."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def main(argv: list[str] | None = None) -> int:
    """Write the demo file, or check that it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    text = render(make())
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run python -m agent.examples.make_demo", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {len(text.splitlines())} tickets to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
