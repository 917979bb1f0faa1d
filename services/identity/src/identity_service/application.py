"""Identity use cases: register, authenticate, seed staff accounts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import cast
from uuid import UUID

from ants_runtime.store import ServiceApplication, retry_on_conflict
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from identity_service.adapters.mail import AccountMails
from identity_service.adapters.openid import VerifiedClaims
from identity_service.domain.model import (
    SIGN_IN_EXPIRED,
    Account,
    EmailIndex,
    IdentityAlreadyLinked,
    SignIn,
    SignInRefused,
    SubjectIndex,
    WrongCredentials,
    check_account,
    normalise_email,
)
from identity_service.domain.passwords import Passwords
from identity_service.domain.throttle import (
    ACCOUNT_POLICY,
    ADDRESS_POLICY,
    REGISTRATION_POLICY,
    LoginThrottle,
    ThrottlePolicy,
    TooManyRegistrations,
)

Clock = Callable[[], datetime]
SIGN_IN_LIFETIME = timedelta(minutes=10)


def utc_now() -> datetime:
    return datetime.now(UTC)


class IdentityApplication(ServiceApplication):
    name = "identity"
    snapshotting_intervals = {LoginThrottle: 50}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        passwords: Passwords | None = None,
        mails: AccountMails | None = None,
        clock: Clock = utc_now,
        account_policy: ThrottlePolicy = ACCOUNT_POLICY,
        address_policy: ThrottlePolicy = ADDRESS_POLICY,
        registration_policy: ThrottlePolicy = REGISTRATION_POLICY,
    ) -> None:
        super().__init__(env)
        self.passwords = passwords or Passwords()
        self.mails = mails or AccountMails()
        self.clock = clock
        self.policies = {
            "account": account_policy, "address": address_policy,
            "registration": registration_policy,
        }

    def register(
        self, email: str, password: str, given_name: str, family_name: str,
        client_address: str | None = None,
    ) -> None:
        """Create a citizen account. The caller learns nothing of whether the address was
        free: both ways take a password hash and send one mail, which tells the owner.
        Registrations are counted per client address: beyond a few an hour, each one waits
        longer, then none is taken for a while (mails cannot be sent to anyone at will)."""
        email = normalise_email(email)
        check_account(email, password, given_name, family_name)
        if client_address:
            now = self.clock()
            self._throttle("registration", client_address).check(
                self.policies["registration"], now, TooManyRegistrations
            )
            self._record_failure({"registration": client_address}, now)
        password_hash = self.passwords.hash(password)
        if self.find_by_email(email) is None and self._create_account(
            email, password_hash, given_name.strip(), family_name.strip(), ["citizen"]
        ):
            self.mails.account_created(email, given_name.strip())
        else:
            self.mails.already_registered(email)

    def find_by_email(self, email: str) -> Account | None:
        email = normalise_email(email)
        try:
            index: EmailIndex = self.repository.get(EmailIndex.create_id(email))
        except AggregateNotFoundError:
            return None
        return self.repository.get(index.account_id)

    def authenticate(self, email: str, password: str, client_address: str | None = None) -> Account:
        """The account, or WrongCredentials after the same work whether or not it exists.

        Failures are counted per e-mail address (known or not, so that refusals do not tell
        either) and per client address. A success clears the account's count, never the
        client address's: logging into one's own account must not wipe a guesser's record.
        """
        email = normalise_email(email)
        throttles = {"account": email} | ({"address": client_address} if client_address else {})
        now = self.clock()
        for kind, key in throttles.items():
            self._throttle(kind, key).check(self.policies[kind], now)
        account = self.find_by_email(email)
        if not self.passwords.verify(password, account.password_hash or None if account else None):
            self._record_failure(throttles, now)
            raise WrongCredentials
        assert account is not None
        self._forget_failures("account", email)
        return account

    def get_account(self, account_id: UUID) -> Account:
        return self.repository.get(account_id)

    # --- signing in through the identity provider (FranceConnect) -------------------------

    def begin_sign_in(self, state: str, nonce: str, code_verifier: str, redirect_uri: str) -> None:
        self.save(SignIn(state, nonce, code_verifier, redirect_uri))

    def use_sign_in(self, state: str) -> SignIn:
        """The sign-in this `state` started, once: a second use or a late one is refused. The
        use is saved by compare-and-set, so two replicas racing with one answer cannot both win."""
        try:
            sign_in: SignIn = self.repository.get(SignIn.create_id(state))
        except AggregateNotFoundError:
            raise SignInRefused(SIGN_IN_EXPIRED) from None
        sign_in.use(self.clock(), SIGN_IN_LIFETIME)
        try:
            self.save(sign_in)
        except IntegrityError:
            raise SignInRefused(SIGN_IN_EXPIRED) from None
        return sign_in

    @retry_on_conflict()
    def sign_in_verified(self, claims: VerifiedClaims) -> Account:
        """The account of the person the provider vouched for, created at their first sign-in.

        It is found by the provider's subject, never by e-mail address: an account someone
        registered with a password under that address (perhaps not its owner) is not handed
        the verified identity. Such an account has no password and is not in the e-mail
        index: it is reached through the provider only."""
        index_id = SubjectIndex.create_id(claims.issuer, claims.subject)
        try:
            account: Account = self.repository.get(self.repository.get(index_id).account_id)
        except AggregateNotFoundError:
            account = Account(
                claims.email, "", claims.given_name, claims.family_name, ["citizen"]
            )
            account.verify_identity(claims.issuer, claims.subject, claims.identity())
            self.save(account, SubjectIndex(claims.issuer, claims.subject, account.id))
            return account
        if account.verify_identity(claims.issuer, claims.subject, claims.identity()):
            self.save(account)
        return account

    def seed(self, accounts: list[dict[str, object]], issuer: str | None = None) -> int:
        """Create the listed accounts that do not exist yet (demo data, first staff accounts).
        No mail is sent for them. An entry with `verified_identity` (a `subject` and its
        claims) is linked to that person of the identity provider `issuer`, when one is set:
        the demo people sign in with their password or through the provider alike."""
        created = 0
        for spec in accounts:
            email = normalise_email(str(spec["email"]))
            password, given_name, family_name = (
                str(spec["password"]), str(spec["given_name"]), str(spec["family_name"])
            )
            verified = cast(dict[str, str] | None, spec.get("verified_identity"))
            existing = self.find_by_email(email)
            if existing is not None:
                if issuer and verified and existing.verified_identity is None:
                    self._link_seeded(existing, issuer, verified)  # seeded before the link existed
                continue
            check_account(email, password, given_name, family_name)
            roles = [str(role) for role in cast(list[object], spec.get("roles", ["citizen"]))]
            created += self._create_account(
                email, self.passwords.hash(password), given_name.strip(), family_name.strip(),
                roles, (issuer, verified) if issuer and verified else None,
            )
        return created

    def _link_seeded(self, account: Account, issuer: str, claims: dict[str, str]) -> None:
        identity = {k: v for k, v in claims.items() if k != "subject"}
        account.verify_identity(issuer, claims["subject"], identity)
        try:
            self.save(account, SubjectIndex(issuer, claims["subject"], account.id))
        except IntegrityError:
            pass  # another replica linked it

    def _create_account(
        self, email: str, password_hash: str, given_name: str, family_name: str, roles: list[str],
        verified: tuple[str, dict[str, str]] | None = None,
    ) -> bool:
        """False when the address was registered concurrently (its index already exists)."""
        account = Account(email, password_hash, given_name, family_name, roles)
        indexes: list[SubjectIndex] = []
        if verified:
            issuer, claims = verified
            subject = claims["subject"]
            identity = {k: v for k, v in claims.items() if k != "subject"}
            account.verify_identity(issuer, subject, identity)
            indexes.append(SubjectIndex(issuer, subject, account.id))
        try:
            self.save(account, EmailIndex(email=email, account_id=account.id), *indexes)
        except IntegrityError:
            return False
        return True

    @retry_on_conflict()
    def link_verified(self, account_id: UUID, claims: VerifiedClaims) -> Account:
        """Link the person the provider vouched for to the account its owner is signed in to
        (with a password): from then on either way of signing in gives the verified identity.
        Refused when that person is already linked to another account."""
        account: Account = self.repository.get(account_id)
        index_id = SubjectIndex.create_id(claims.issuer, claims.subject)
        try:
            index: SubjectIndex = self.repository.get(index_id)
            linked_to = index.account_id
        except AggregateNotFoundError:
            linked_to = None
        if linked_to is not None and linked_to != account.id:
            raise IdentityAlreadyLinked
        if account.verified_identity and (
            account.verified_identity["issuer"], account.verified_identity["subject"]
        ) != (claims.issuer, claims.subject):
            raise IdentityAlreadyLinked
        changed = account.verify_identity(claims.issuer, claims.subject, claims.identity())
        indexes = [] if linked_to else [SubjectIndex(claims.issuer, claims.subject, account.id)]
        if changed or indexes:
            self.save(account, *indexes)
        return account

    # --- failed logins ----------------------------------------------------------------------

    def _throttle(self, kind: str, key: str) -> LoginThrottle:
        throttle_id = LoginThrottle.id_for(kind, key)
        try:
            return self.repository.get(throttle_id)
        except AggregateNotFoundError:
            return LoginThrottle(id=throttle_id)

    @retry_on_conflict()
    def _record_failure(self, throttles: dict[str, str], at: datetime) -> None:
        """Saved by compare-and-set: replicas counting the same address at once all count."""
        recorded = []
        for kind, key in throttles.items():
            throttle = self._throttle(kind, key)
            throttle.record_failure(at)
            recorded.append(throttle)
        self.save(*recorded)

    @retry_on_conflict()
    def _forget_failures(self, kind: str, key: str) -> None:
        throttle = self._throttle(kind, key)
        if throttle.clear():
            self.save(throttle)
