// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Enumerable} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Enumerable.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/**
 * @title AccessCredentialNFT
 * @notice One token per VM access credential. Holding the token is what lets a wallet log in; the
 *         token carries the connection details encrypted to its holder (`userEncrypted`), and the data
 *         stays with the token when it is transferred.
 * @dev Token ids start at 0 (token #0 is the admin credential). `mint` is the seed-compatible entry point;
 *      `mintForSubscription` is the idempotent one the server uses, so a retried transaction can never give a
 *      subscription a second token. Both share one id counter.
 */
contract AccessCredentialNFT is ERC721, ERC721Enumerable, Ownable {
    struct SubscriptionToken {
        bool minted;
        uint256 tokenId;
    }

    uint256 private _nextTokenId;
    mapping(uint256 tokenId => bytes) private _userEncrypted;
    mapping(uint256 subscriptionId => SubscriptionToken) private _subscriptionTokens;

    event CredentialMinted(uint256 indexed tokenId, address indexed recipient);
    event CredentialUpdated(uint256 indexed tokenId);
    event SubscriptionCredentialMinted(
        uint256 indexed subscriptionId, uint256 indexed tokenId, address indexed recipient
    );

    error SubscriptionAlreadyMinted(uint256 subscriptionId, uint256 tokenId);

    constructor(string memory name_, string memory symbol_) ERC721(name_, symbol_) Ownable(msg.sender) {}

    /// @notice Mints a credential to `to` carrying `userEncrypted`; returns the new token id.
    function mint(address to, bytes calldata userEncrypted) external onlyOwner returns (uint256 tokenId) {
        tokenId = _mintCredential(to, userEncrypted);
    }

    /// @notice Mints the credential of `subscriptionId`; reverts if that subscription already has one.
    function mintForSubscription(uint256 subscriptionId, address to, bytes calldata userEncrypted)
        external
        onlyOwner
        returns (uint256 tokenId)
    {
        SubscriptionToken storage entry = _subscriptionTokens[subscriptionId];
        if (entry.minted) revert SubscriptionAlreadyMinted(subscriptionId, entry.tokenId);
        tokenId = _nextTokenId;
        // Recorded before minting: _safeMint calls into the recipient.
        entry.minted = true;
        entry.tokenId = tokenId;
        _mintCredential(to, userEncrypted);
        emit SubscriptionCredentialMinted(subscriptionId, tokenId, to);
    }

    /// @notice The token minted for `subscriptionId` by `mintForSubscription`, if any.
    function getSubscriptionToken(uint256 subscriptionId) external view returns (bool minted, uint256 tokenId) {
        SubscriptionToken memory entry = _subscriptionTokens[subscriptionId];
        return (entry.minted, entry.tokenId);
    }

    function updateUserEncrypted(uint256 tokenId, bytes calldata userEncrypted) external onlyOwner {
        _requireOwned(tokenId);
        _userEncrypted[tokenId] = userEncrypted;
        emit CredentialUpdated(tokenId);
    }

    function getUserEncrypted(uint256 tokenId) external view returns (bytes memory) {
        _requireOwned(tokenId);
        return _userEncrypted[tokenId];
    }

    function _mintCredential(address to, bytes calldata userEncrypted) private returns (uint256 tokenId) {
        tokenId = _nextTokenId++;
        _userEncrypted[tokenId] = userEncrypted;
        _safeMint(to, tokenId);
        emit CredentialMinted(tokenId, to);
    }

    // Overrides required by Solidity for ERC721 + ERC721Enumerable.

    function _update(address to, uint256 tokenId, address auth)
        internal
        override(ERC721, ERC721Enumerable)
        returns (address)
    {
        return super._update(to, tokenId, auth);
    }

    function _increaseBalance(address account, uint128 value) internal override(ERC721, ERC721Enumerable) {
        super._increaseBalance(account, value);
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC721, ERC721Enumerable) returns (bool) {
        return super.supportsInterface(interfaceId);
    }
}
